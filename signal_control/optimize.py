"""From demand to safe, coordinated plans for every signal: the optimiser's entry point.

Methods:

* ``webster``: each intersection on its own Webster cycle and splits, offsets 0.
* ``bandwidth``: one common cycle (the one in [C_webster, 1.5 C_webster] with the best weighted
  band efficiency, or the one given), Webster splits at it, offsets maximising the two-way band
  along the corridor.
* ``delay``: common cycles from 0.8 to 1.6 x the Webster cycle are screened (Webster splits,
  bandwidth offsets, one TRANSYT-style hill-climb each); the best one then gets the full search over
  offsets and splits (bandwidth offsets, zero offsets and random restarts).

With ``keep_splits`` the plans' own cycle and splits are kept and only offsets change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from signal_control.bandwidth import BandResult, corridor_bands, maximise_bandwidth
from signal_control.corridor import Corridor, build_corridor, find_corridor
from signal_control.delay import minimise_delay
from signal_control.errors import OptimizerError
from signal_control.movement_demand import MovementFlow, movement_demand
from signal_control.network_model import NetworkArrays, PlanInputs, build_arrays
from signal_control.params import DEFAULT_BANDWIDTH, DEFAULT_DELAY, HCM, BandwidthParams, DelayParams, WebsterParams
from signal_control.webster import WebsterResult, min_cycle_for, predicted_delay_s, webster_plan
from traffic.counts import IntervalCounts
from traffic.plan_validation import ValidationRules, check_plan
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan

Method = Literal["webster", "bandwidth", "delay"]
METHODS: tuple[str, ...] = ("webster", "bandwidth", "delay")


@dataclass(frozen=True)
class _Problem:
    """What every step of one optimisation shares."""

    scenario: Scenario
    base: Mapping[str, SignalPlan]
    demand: Mapping[str, MovementFlow]
    webster: WebsterParams
    band: BandwidthParams
    delay: DelayParams
    corridor: Corridor | None
    method: str
    keep_splits: bool
    name: str
    inputs: PlanInputs  # what the cycle does not change, computed once for this problem


@dataclass(frozen=True)
class OptimizationResult:
    """Optimised plans (all safety-validated) and their predicted performance.

    Attributes:
        plans: intersection id -> plan.
        bands: outbound/inbound band of the corridor under ``plans`` (None without a corridor).
        predicted_pi: TRANSYT-style performance index (veh-s of delay per s, stops weighted).
        predicted_delay_s: per intersection, HCM control delay (s/veh) of its Webster analysis.
        predicted_mean_delay_s: network delay per vehicle-passage of a signal (PI model, s).
    """

    method: str
    plans: dict[str, SignalPlan]
    cycle_s: float | None
    corridor: Corridor | None
    bands: BandResult | None
    predicted_pi: float | None
    predicted_delay_s: dict[str, float]
    predicted_mean_delay_s: float | None = None
    warnings: tuple[str, ...] = ()
    cycles_tried: dict[float, float] = field(default_factory=dict)

    def summary(self) -> dict:
        """Predicted figures as plain JSON-ready values."""
        out: dict = {"method": self.method, "cycle_s": self.cycle_s, "warnings": list(self.warnings),
                     "predicted_delay_s": {k: round(v, 2) for k, v in self.predicted_delay_s.items()}}
        if self.predicted_pi is not None:
            out["predicted_pi_veh_s_per_s"] = round(self.predicted_pi, 3)
            out["predicted_mean_delay_s"] = round(self.predicted_mean_delay_s or 0.0, 2)
        if self.bands is not None and self.corridor is not None:
            b = self.bands
            out["corridor"] = list(self.corridor.intersections)
            out["bandwidth"] = {"outbound_s": round(b.outbound_s, 2), "inbound_s": round(b.inbound_s, 2),
                                "outbound_pct": round(b.outbound_pct, 1), "inbound_pct": round(b.inbound_pct, 1)}
        if self.cycles_tried:
            out["cycles_tried"] = {str(k): round(v, 3) for k, v in sorted(self.cycles_tried.items())}
        return out


def optimize(scenario: Scenario, method: Method = "delay", corridor: Sequence[str] | None = None,
             counts: Sequence[IntervalCounts] | Mapping[str, float] | None = None,
             webster: WebsterParams = HCM, band: BandwidthParams = DEFAULT_BANDWIDTH,
             delay: DelayParams = DEFAULT_DELAY, cycle_s: float | None = None, keep_splits: bool = False,
             name: str = "optimized", rules: ValidationRules | None = None) -> OptimizationResult:
    """Optimise every signal of ``scenario`` (see the module docstring for the methods).

    Args:
        corridor: intersection or node ids of the arterial, outbound order; default the busiest
            straight chain of signals.
        counts: measured demand (interval counts or movement -> veh/h) instead of the scenario's flows.
        cycle_s: impose a common cycle.
        keep_splits: keep the active plans' cycle and greens, optimise offsets only.
        rules: safety rules every plan is checked against (default: the Foundation's).

    Raises:
        OptimizerError: bad method, bad corridor, bad demand (``InfeasibleDemandError`` for Y >= 1).
    """
    if method not in METHODS:
        raise OptimizerError(f"unknown method {method!r} (use one of {', '.join(METHODS)})")
    rules = rules or ValidationRules(min_green_s=min(5.0, webster.min_green_s), pedestrians=webster.pedestrians)
    demand = movement_demand(scenario, counts)
    base = scenario.active_plan_set()
    if method == "webster":
        return _webster_only(scenario, base, demand, webster, name, rules)
    cor, no_corridor = None, None
    if corridor:
        if len(scenario.intersections) < 2:
            raise OptimizerError(f"scenario {scenario.name!r} has one signal: nothing to coordinate")
        cor = build_corridor(scenario, list(corridor), band.speed_factor)
    elif len(scenario.intersections) >= 2:
        cor, no_corridor = _automatic_corridor(scenario, demand, band)
    pb = _Problem(scenario, base, demand, webster, band, delay, cor, method, keep_splits, name,
                  PlanInputs(scenario, demand, webster))
    candidates, warnings = _candidate_cycles(pb, cycle_s)
    if no_corridor:
        warnings.append(no_corridor)
    pi, plans, arrays, tried = _search_cycles(pb, candidates)
    for iid, p in plans.items():
        check_plan(p, scenario.intersections[iid], rules)
    bands = None
    if cor is not None:
        bo, bi = corridor_bands(cor, plans)
        bands = BandResult({i: plans[i].offset_s for i in cor.intersections}, bo, bi,
                           plans[cor.intersections[0]].cycle_s)
    predicted = {iid: predicted_delay_s(p, pb.inputs.ratios(iid, p), webster.timing) for iid, p in plans.items()}
    mean_delay = pi / float(arrays.flow.sum()) if arrays.flow.sum() > 0 else 0.0
    return OptimizationResult(method, plans, plans[next(iter(plans))].cycle_s, cor, bands, pi, predicted,
                              mean_delay, tuple(warnings), tried)


def _automatic_corridor(scenario: Scenario, demand: Mapping[str, MovementFlow], band: BandwidthParams
                        ) -> tuple[Corridor | None, str | None]:
    """The busiest straight chain of signals, or None and why where there is none (a real network's
    chains may run straight one way only): the plans then share a cycle, offsets from the delay search."""
    try:
        return build_corridor(scenario, find_corridor(scenario, demand), band.speed_factor), None
    except OptimizerError as exc:
        return None, f"no corridor to coordinate ({exc}): no green-wave bands"


def _candidate_cycles(pb: _Problem, cycle_s: float | None) -> tuple[list[float], list[str]]:
    """Common cycles to try, and the Webster warnings (over-saturation) met on the way."""
    if pb.keep_splits:
        cycles = {p.cycle_s for p in pb.base.values()}
        if len(cycles) != 1:
            raise OptimizerError(f"keep_splits needs one common cycle, the active plans have {sorted(cycles)}")
        return [cycles.pop()], []
    own = [_webster_at(pb, iid, None) for iid in pb.base]
    warnings = [w for r in own for w in r.warnings]
    c_web = max(r.plan.cycle_s for r in own)
    if cycle_s:
        return [cycle_s], warnings
    if any(r.ratios.total_y >= 1.0 for r in own):
        return [c_web], warnings  # demand above capacity: the longest cycle carries the most
    if pb.method == "bandwidth":
        return [_best_band_cycle(pb, c_web) if pb.corridor is not None else c_web], warnings
    lo = max(pb.webster.min_cycle_s, round(0.8 * c_web))
    hi = min(pb.webster.max_cycle_s, round(1.6 * c_web))
    return [float(c) for c in range(int(lo), int(hi) + 1, 2)] or [c_web], warnings


def _search_cycles(pb: _Problem, candidates: list[float]
                   ) -> tuple[float, dict[str, SignalPlan], NetworkArrays, dict[float, float]]:
    """Lowest-PI plans over the candidate cycles: every other one, then the neighbours of the best;
    for the delay method each is screened with one climb and the winner gets the full search."""
    tried: dict[float, float] = {}
    screening = pb.method == "delay" and len(candidates) > 1
    best = None
    coarse = candidates[::2] if len(candidates) > 4 else candidates
    for c in _refine(coarse, candidates, tried):
        pi, plans, arrays = _at_cycle(pb, c, screening)
        tried[c] = pi
        if best is None or pi < best[0]:
            best = (pi, plans, arrays, c)
    assert best is not None
    if screening:
        full = _at_cycle(pb, best[3], False)
        if full[0] < best[0]:
            best = (*full, best[3])
            tried[best[3]] = full[0]
    return best[0], best[1], best[2], tried


def _at_cycle(pb: _Problem, cycle: float, screening: bool) -> tuple[float, dict[str, SignalPlan], NetworkArrays]:
    """Plans at one common cycle: Webster splits, bandwidth offsets, then (delay) the hill-climb.

    ``screening`` climbs once from the bandwidth offsets only (no restarts), to rank cycles fast.
    """
    plans = _plans_at(pb, cycle)
    if pb.corridor is not None:
        res = maximise_bandwidth(pb.corridor, plans, pb.band)
        plans = {iid: (p.with_offset(res.offsets_s[iid]) if iid in res.offsets_s else p) for iid, p in plans.items()}
    arrays = build_arrays(pb.scenario, plans, pb.demand, pb.webster, pb.delay, pb.inputs)
    if pb.method != "delay":
        return arrays.pi(), plans, arrays
    dparams = replace(pb.delay, optimise_splits=pb.delay.optimise_splits and not pb.keep_splits,
                      restarts=0 if screening else pb.delay.restarts,
                      max_passes=pb.delay.screening_passes if screening else pb.delay.max_passes)
    starts = [arrays.offsets] if screening else [arrays.offsets, np.zeros(len(arrays.signals))]
    sol = minimise_delay(arrays, dparams, starts=starts)
    return sol.pi, _apply(plans, arrays, sol.offsets, sol.greens), arrays


def _best_band_cycle(pb: _Problem, c_web: float) -> float:
    """The common cycle in [C_webster, 1.5 C_webster] with the best weighted band efficiency (MAXBAND
    chooses the cycle too); the shortest wins ties."""
    assert pb.corridor is not None
    best, best_eff = c_web, -1.0
    w_out, w_in = pb.band.weight_outbound, pb.band.weight_inbound
    for c in range(int(c_web), int(min(pb.webster.max_cycle_s, 1.5 * c_web)) + 1):
        res = maximise_bandwidth(pb.corridor, _plans_at(pb, float(c)), pb.band)
        eff = (w_out * res.outbound_s + w_in * res.inbound_s) / res.cycle_s
        if eff > best_eff + 1e-6:
            best, best_eff = float(res.cycle_s), eff
    return best


def _refine(coarse: list[float], fine: list[float], tried: dict[float, float]) -> Iterator[float]:
    """Yield the coarse cycles, then the fine ones next to the best coarse cycle so far."""
    yield from coarse
    if len(coarse) == len(fine):
        return
    best = min(tried, key=lambda c: tried[c])
    k = fine.index(best)
    for c in fine[max(0, k - 1):k + 2]:
        if c not in tried:
            yield c


def _plans_at(pb: _Problem, cycle: float) -> dict[str, SignalPlan]:
    """Webster splits at the common cycle (all raised to the longest minimum cycle if one needs it)."""
    if pb.keep_splits:
        return {iid: replace(p, name=pb.name) for iid, p in pb.base.items()}
    cycle = max([cycle] + [min_cycle_for(p, pb.webster, min_greens_s=pb.inputs.min_greens_s(iid, p))
                           for iid, p in pb.base.items()])
    return {iid: _webster_at(pb, iid, cycle).plan for iid in pb.base}


def _webster_at(pb: _Problem, iid: str, cycle: float | None) -> WebsterResult:
    """``webster_plan`` of intersection ``iid``'s active plan (at ``cycle``, or its own), from the
    problem's ratios and minimum greens computed once."""
    p = pb.base[iid]
    return webster_plan(pb.scenario.network, pb.scenario.intersections[iid], p, pb.demand, pb.webster,
                        cycle_s=cycle, name=pb.name, ratios=pb.inputs.ratios(iid, p),
                        min_greens_s=pb.inputs.min_greens_s(iid, p))


def _apply(plans: Mapping[str, SignalPlan], arrays: NetworkArrays, offsets: np.ndarray,
           greens: np.ndarray) -> dict[str, SignalPlan]:
    out = dict(plans)
    for k, iid in enumerate(arrays.signals):
        g = greens[arrays.ph_ptr[k]:arrays.ph_ptr[k + 1]]
        p = out[iid].with_greens([float(round(x, 3)) for x in g])
        out[iid] = p.with_offset(float(round(offsets[k], 3)))
    return out


def _webster_only(scenario: Scenario, base: Mapping[str, SignalPlan], demand: Mapping[str, MovementFlow],
                  webster: WebsterParams, name: str, rules: ValidationRules) -> OptimizationResult:
    results = {iid: webster_plan(scenario.network, scenario.intersections[iid], p, demand, webster, name=name,
                                 rules=rules) for iid, p in base.items()}
    plans = {iid: r.plan for iid, r in results.items()}
    cycles = {p.cycle_s for p in plans.values()}
    return OptimizationResult("webster", plans, cycles.pop() if len(cycles) == 1 else None, None, None, None,
                              {iid: r.predicted_delay_s for iid, r in results.items()},
                              warnings=tuple(w for r in results.values() for w in r.warnings))
