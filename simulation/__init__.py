"""SimPy road-network simulation of a scenario under its signal plans or a controller.

``simulate(scenario, seed)`` runs once; ``simulate_seeds`` runs many seeds (in parallel with
``jobs``); ``Simulation`` exposes the run for controllers in the loop (``request_plan``).
"""

from simulation.engine import Simulation
from simulation.params import DEFAULT_PARAMS, SimParams
from simulation.runner import SimulationResult, simulate, simulate_seeds

__all__ = ["DEFAULT_PARAMS", "SimParams", "Simulation", "SimulationResult", "simulate", "simulate_seeds"]
