"""Interval counts to safe signal plans (Webster/HCM splits, green-wave offsets, controllers).

Not built yet: see the optimiser and closed-loop issues.
"""
