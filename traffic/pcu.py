"""Passenger-car units: the one conversion from vehicles by class to PCU.

Every consumer of counts (level of service and v/c in the API, the live view, the optimiser's
demand from counts, ``IntervalCounts``) converts through :func:`pcu_of` with a table from
:func:`pcu_table` (the defaults of ``traffic.vehicles.DEFAULT_PCU``) or :func:`scenario_pcu` (the
same defaults, overridden by the PCU of the scenario's vehicle types of each class). A class the
table does not know counts as a car (1 PCU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from traffic.errors import ModelError
from traffic.vehicles import DEFAULT_PCU

if TYPE_CHECKING:
    from traffic.scenario import Scenario

UNKNOWN_CLASS_PCU = 1.0


def pcu_table(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """PCU per vehicle class: the defaults, with ``overrides`` (class -> PCU, finite and > 0) on top."""
    table = dict(DEFAULT_PCU)
    for cls, value in (overrides or {}).items():
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ModelError(f"PCU of class {cls!r} (={value!r}) must be a finite number > 0")
        table[str(cls)] = float(value)
    return table


def scenario_pcu(scenario: Scenario) -> dict[str, float]:
    """PCU per class for ``scenario``: its vehicle types' PCU (per class, the mean when types of one class
    differ) over the defaults, so that counts are weighted as the scenario's simulated vehicles are."""
    by_class: dict[str, list[float]] = {}
    for vt in scenario.demand.vehicle_types.values():
        by_class.setdefault(vt.vehicle_class, []).append(vt.pcu)
    return pcu_table({cls: sum(v) / len(v) for cls, v in by_class.items()})


def class_pcu(vehicle_class: str, table: Mapping[str, float] | None = None) -> float:
    """PCU of one vehicle of ``vehicle_class`` (1 for a class the table does not know)."""
    return (DEFAULT_PCU if table is None else table).get(vehicle_class, UNKNOWN_CLASS_PCU)


def pcu_of(by_class: Mapping[str, float], table: Mapping[str, float] | None = None) -> float:
    """PCU of vehicles counted by class (``class -> vehicles``)."""
    return sum(n * class_pcu(cls, table) for cls, n in by_class.items())
