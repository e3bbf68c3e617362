"""Per-movement demand from a scenario's flows or from interval counts (one function, two sources)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from signal_control.errors import OptimizerError
from traffic.counts import IntervalCounts
from traffic.demand import Flow, Trip
from traffic.scenario import Scenario


@dataclass(frozen=True, slots=True)
class MovementFlow:
    """Demand of one movement: vehicles and passenger-car units per hour."""

    veh_h: float
    pcu_h: float


DemandSource = Literal["camera", "last_good", "scenario"]


def movement_demand(scenario: Scenario,
                    counts: Sequence[IntervalCounts] | Mapping[str, float] | Mapping[str, MovementFlow] | None = None,
                    window_s: tuple[float, float] | None = None) -> dict[str, MovementFlow]:
    """Flow of every signalised movement of ``scenario``.

    Args:
        scenario: network, intersections and (when ``counts`` is None) demand.
        counts: measured demand instead of the scenario's flows: interval counts keyed by movement
            id (several intervals are averaged, PCU from each count's classes through ``traffic.pcu``), or a
            mapping movement id -> veh/h (PCU = veh) or -> :class:`MovementFlow` (veh/h and PCU/h).
        window_s: ``(begin_s, end_s)`` over which scenario flows are averaged; default the
            scenario's simulated window.

    Returns:
        movement id -> :class:`MovementFlow` for every movement of every intersection (0 when unseen).

    Raises:
        OptimizerError: negative or non-finite flows, counts for unknown movements, or no demand at all.
    """
    known = {m for inter in scenario.intersections.values() for m in inter.movements}
    if counts is None:
        flows = _from_scenario(scenario, window_s)
    elif isinstance(counts, Mapping):
        flows = _from_mapping(counts)
    else:
        flows = _from_counts(counts)
    unknown = sorted(set(flows) - set(scenario.network.movements))
    if unknown:
        raise OptimizerError(f"demand names unknown movements {unknown[:5]}")
    out = {m: flows.get(m, MovementFlow(0.0, 0.0)) for m in sorted(known)}
    if not any(f.veh_h > 0 for f in out.values()):
        raise OptimizerError(f"scenario {scenario.name!r}: no demand on any signalised movement")
    return out


def _from_mapping(flows: Mapping[str, float] | Mapping[str, MovementFlow]) -> dict[str, MovementFlow]:
    out = {}
    for mid, q in flows.items():
        f = q if isinstance(q, MovementFlow) else MovementFlow(float(q), float(q))
        for value, unit in ((f.veh_h, "veh/h"), (f.pcu_h, "PCU/h")):
            if not math.isfinite(value) or value < 0:
                raise OptimizerError(f"flow of movement {mid!r} (={value} {unit}) must be a finite number >= 0")
        out[mid] = MovementFlow(float(f.veh_h), float(f.pcu_h))
    return out


def demand_with_fallback(scenario: Scenario, measured: Mapping[str, MovementFlow],
                         last_good: Mapping[str, MovementFlow] | None = None
                         ) -> tuple[dict[str, MovementFlow], dict[str, DemandSource]]:
    """Demand of every signalised movement with where it came from, for counts that cover only some movements.

    A movement without a measured flow is missing, not zero: it takes its last good measurement
    (``last_good``) if any, else the scenario's flow (0 only when the scenario has none either).

    Returns:
        (movement id -> flow, movement id -> ``"camera"``, ``"last_good"`` or ``"scenario"``).
    """
    known = sorted({m for inter in scenario.intersections.values() for m in inter.movements})
    last_good = last_good or {}
    scenario_flows: dict[str, MovementFlow] | None = None
    flows: dict[str, MovementFlow] = {}
    sources: dict[str, DemandSource] = {}
    for m in known:
        if m in measured:
            flows[m], sources[m] = measured[m], "camera"
        elif m in last_good:
            flows[m], sources[m] = last_good[m], "last_good"
        else:
            if scenario_flows is None:
                scenario_flows = _from_scenario(scenario, None)
            flows[m], sources[m] = scenario_flows.get(m, MovementFlow(0.0, 0.0)), "scenario"
    return flows, sources


def _from_counts(counts: Sequence[IntervalCounts]) -> dict[str, MovementFlow]:
    if not counts:
        raise OptimizerError("no interval counts given")
    veh: dict[str, float] = {}
    pcu: dict[str, float] = {}
    hours = sum(c.duration_s for c in counts) / 3600.0
    for c in counts:
        for key in c.counts:
            veh[key] = veh.get(key, 0.0) + c.vehicles(key)
            pcu[key] = pcu.get(key, 0.0) + c.pcus(key)
    return {k: MovementFlow(veh[k] / hours, pcu[k] / hours) for k in veh}


def _from_scenario(scenario: Scenario, window_s: tuple[float, float] | None) -> dict[str, MovementFlow]:
    begin, end = window_s if window_s is not None else (scenario.begin_s, scenario.end_s)
    if not end > begin:
        raise OptimizerError(f"demand window ({begin}, {end}) must have end > begin")
    hours = (end - begin) / 3600.0
    veh: dict[str, float] = {}
    pcu: dict[str, float] = {}
    net = scenario.network
    items: list[tuple[Flow | Trip, float]] = []
    for flow in scenario.demand.flows:
        n = sum(s.flow_veh_h * max(0.0, min(end, s.end_s) - max(begin, s.begin_s)) / 3600.0 for s in flow.slices)
        items.append((flow, n))
    items += [(trip, 1.0) for trip in scenario.demand.trips if begin <= trip.depart_s < end]
    for item, n in items:
        if n <= 0:
            continue
        factor = scenario.demand.pcu(item.vehicle_type)
        for a, b in itertools.pairwise(scenario.route_links(item)):
            m = net.movement_between(a, b)
            if m is None:
                continue
            veh[m.id] = veh.get(m.id, 0.0) + n / hours
            pcu[m.id] = pcu.get(m.id, 0.0) + n * factor / hours
    return {k: MovementFlow(veh[k], pcu[k]) for k in veh}
