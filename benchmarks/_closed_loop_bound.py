"""How much any schedule of the optimiser's fixed-time plans could gain on a time-sliced scenario:
a hindsight bound.

Candidates: the optimiser's plans for the average demand at common cycles 30..80 s, and its plans
for each slice's own (true, not measured) demand. Each candidate runs the whole scenario; the
bound takes, slice by slice, the lowest mean time loss of the vehicles departing in that slice
over all candidates (as if a controller switched, at no cost, to the plan that turned out best
for each slice). No plan-switching controller built from these plans can beat it by much.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
from collections.abc import Sequence

import numpy as np

from signal_control.movement_demand import movement_demand
from signal_control.optimize import optimize
from signal_control.params import WebsterParams
from simulation.engine import Simulation
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan

CYCLES_S = (30.0, 36.0, 40.0, 44.0, 50.0, 56.0, 64.0, 72.0, 80.0)


def _slices(scenario: Scenario) -> list[tuple[float, float]]:
    bounds = sorted({s.begin_s for f in scenario.demand.flows for s in f.slices} | {scenario.end_s})
    return list(itertools.pairwise(bounds))


def candidates(scenario: Scenario, webster: WebsterParams) -> dict[str, dict[str, SignalPlan]]:
    out = {f"average@{c:g}s": dict(optimize(scenario, "delay", webster=webster, cycle_s=c, name="c").plans)
           for c in CYCLES_S}
    for k, (a, b) in enumerate(_slices(scenario)):
        d = movement_demand(scenario, window_s=(a, b))
        out[f"slice{k}"] = dict(optimize(scenario, "delay", webster=webster, counts={m: f.pcu_h for m, f in d.items()},
                                         name="s").plans)
    return out


def _per_slice(args: tuple[Scenario, dict[str, SignalPlan], int]) -> tuple[np.ndarray, np.ndarray]:
    scenario, plans, seed = args
    sim = Simulation(scenario.with_plans(plans), seed).run()
    edges = np.array([a for a, _ in _slices(scenario)] + [np.inf])
    depart = np.asarray(sim.log.arrival_s) - np.asarray(sim.log.travel_time_s)
    k = np.clip(np.searchsorted(edges, depart, side="right") - 1, 0, len(edges) - 2)
    n = len(edges) - 1
    return (np.bincount(k, weights=np.asarray(sim.log.time_loss_s), minlength=n), np.bincount(k, minlength=n))


def hindsight_bound(scenario: Scenario, webster: WebsterParams, seeds: Sequence[int], jobs: int = 2) -> dict:
    """Per candidate its whole-run mean time loss, and the per-slice hindsight bound (means over seeds)."""
    cands = candidates(scenario, webster)
    tasks = [(scenario, plans, s) for plans in cands.values() for s in seeds]
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        res = list(pool.map(_per_slice, tasks))
    totals, counts = {}, None
    for i, name in enumerate(cands):
        part = res[i * len(seeds):(i + 1) * len(seeds)]
        totals[name] = sum(t for t, _ in part)
        counts = sum(n for _, n in part)
    assert counts is not None
    whole = {name: float(t.sum() / counts.sum()) for name, t in totals.items()}
    best_per_slice = np.min(np.array(list(totals.values())), axis=0)
    return {"candidates_mean_time_loss_s": whole,
            "bound_mean_time_loss_s": float(best_per_slice.sum() / counts.sum()),
            "best_candidate_per_slice": [min(totals, key=lambda n, k=k: totals[n][k]) for k in range(len(counts))]}
