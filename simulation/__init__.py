"""SimPy road-network simulation of a scenario under a controller.

Not built yet: see the simulation issue.
"""
