"""SimPy road-network simulation of a scenario under its signal plans or a controller.

``simulate(scenario, seed)`` runs once; ``simulate_seeds`` runs many seeds (in parallel with
``jobs``); ``Simulation`` exposes the run for controllers in the loop (``request_plan``).

The names below are imported on first use, so that importing a submodule (``simulation.cli``, which
``greenwave --help`` needs) does not import the engine, numpy and SimPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulation.engine import Simulation
    from simulation.params import DEFAULT_PARAMS, SimParams
    from simulation.runner import SimulationResult, simulate, simulate_seeds

__all__ = ["DEFAULT_PARAMS", "SimParams", "Simulation", "SimulationResult", "simulate", "simulate_seeds"]

_HOMES = {"Simulation": "simulation.engine", "DEFAULT_PARAMS": "simulation.params", "SimParams": "simulation.params",
          "SimulationResult": "simulation.runner", "simulate": "simulation.runner",
          "simulate_seeds": "simulation.runner"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'simulation' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
