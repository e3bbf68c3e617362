"""Stale plans and non-recurrent events (issue 16): does re-planning from counts earn its keep?

The plans a city runs were optimised on last year's counts. For each base scenario, the stale
time-of-day plan is the optimiser's plan for the base (reference-period) demand
(``optimize(scenario, "delay")`` with the adaptive controller's saturation flows, as
``greenwave demo``'s best fixed plan), with ``design_veh_h`` = that demand. The demand has since
drifted (``traffic.demand_drift``); every controller runs on the drifted demand, Greenwave's
simulator, all-vehicle mean time loss:

  stale_fixed        the stale plan, fixed time
  stale_actuated     the stale plan run coordinated-actuated (``ActuatedParams()``), never re-planned
  adaptive_plans     the adaptive controller (time-of-day plan = the stale plan), its plans run as fixed time
  adaptive_actuated  the same, its plans run coordinated-actuated
  oracle_fixed       the optimiser's plan for the drifted demand (hindsight: the demand known in advance)
  oracle_actuated    the same, run coordinated-actuated

Families (per base scenario; isolated bases use their north/south legs as the side street):

  none       no drift (the control: re-planning must not cost)
  g10/g20/g30  growth +10/+20/+30 %
  turns      changed turning shares (through traffic moved to turns on some approaches; approach totals kept)
  g20_turns  +20 % and the changed turning shares (the issue's target family)
  sidegen    a new generator of side-street traffic
  closure    a lane closed on a two-lane approach for 20 min (capacity equivalent: ``lane_closure``)
  crowd      an event crowd leaving by a side street over 20 min

Gains are paired by seed: ``100 * (1 - A / B)`` per seed, then mean and sd.

Usage: nice -n 10 python benchmarks/stale_plans.py [--scenarios isolated_x050,isolated_x080,arterial]
       [--families none,g10,...] [--kinds stale_fixed,...] [--seeds 10] [--first-seed 1] [--jobs 2]
       [--out benchmarks/results/stale_plans.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from greenwave.demo.runs import RunResult, run_adaptive, run_fixed
from signal_control.adaptive import AdaptiveParams, TimeOfDayPlan, scenario_design_veh_h
from signal_control.coordinated_actuated import ActuatedParams
from signal_control.optimize import optimize
from traffic import demand_drift as drift
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario
from traffic.signal_plan import SignalPlan

KINDS = ("stale_fixed", "stale_actuated", "adaptive_plans", "adaptive_actuated", "oracle_fixed", "oracle_actuated")
FAMILIES = ("none", "g10", "g20", "g30", "turns", "g20_turns", "sidegen", "closure", "crowd")
DEFAULT_SCENARIOS = ("isolated_x050", "isolated_x080", "arterial")
EVENT_S = (1200.0, 2400.0)
"""The 20-min window of the lane closure and of the event crowd (within the 1-h built-ins' demand)."""
GAINS = (("adaptive_plans", "stale_fixed"), ("adaptive_actuated", "stale_actuated"),
         ("adaptive_actuated", "stale_fixed"), ("stale_actuated", "stale_fixed"), ("oracle_fixed", "stale_fixed"),
         ("adaptive_plans", "oracle_fixed"), ("adaptive_actuated", "oracle_actuated"))
"""(A, B) pairs reported as "A's time loss below B's"."""


def _turns(sc: Scenario) -> Scenario:
    """Changed turning shares: on an isolated cross, 25 % of the north and south through traffic now turns left
    and 20 % of the east and west through traffic turns right; on the arterial, 15 % of the eastbound through
    traffic at I3 and of the westbound at I4 now turns left (onto the side streets)."""
    if "I3" in sc.intersections:
        return drift.turning_shift(drift.turning_shift(sc, "I2_I3", 0.15, "l"), "I5_I4", 0.15, "l")
    for link in ("N_C", "S_C"):
        sc = drift.turning_shift(sc, link, 0.25, "l")
    for link in ("E_C", "W_C"):
        sc = drift.turning_shift(sc, link, 0.20, "r")
    return sc


def _side(sc: Scenario) -> str:
    return "N3_I3" if "I3" in sc.intersections else "N_C"


def _main_entry(sc: Scenario) -> str:
    return "W_I1" if "I1" in sc.intersections else "E_C"


FAMILY_FNS: dict[str, Callable[[Scenario], Scenario]] = {
    "none": lambda sc: sc,
    "g10": lambda sc: drift.grown(sc, 1.1),
    "g20": lambda sc: drift.grown(sc, 1.2),
    "g30": lambda sc: drift.grown(sc, 1.3),
    "turns": _turns,
    "g20_turns": lambda sc: _turns(drift.grown(sc, 1.2)),
    "sidegen": lambda sc: drift.side_street_generator(sc, _side(sc), 250.0 if "I3" in sc.intersections else 200.0),
    "closure": lambda sc: drift.lane_closure(sc, _main_entry(sc), *EVENT_S),
    "crowd": lambda sc: drift.event_crowd(sc, _side(sc), 350.0, *EVENT_S),
}
FAMILY_TEXT = {
    "sidegen": "new generator: +250 veh/h from N3 (arterial) / +200 veh/h from N (isolated), in the approach's "
               "turning shares, whole hour",
    "closure": f"one of two lanes of W_I1 (arterial entry) / E_C (isolated) closed {EVENT_S[0]:g}-{EVENT_S[1]:g} s",
    "crowd": f"+350 veh/h leaving N3 (arterial) / N (isolated) {EVENT_S[0]:g}-{EVENT_S[1]:g} s",
}


def _task(args: tuple[str, str, str, Scenario, dict[str, SignalPlan], dict[str, float], int]) -> tuple[
        str, str, RunResult]:
    base, family, kind, scenario, plans, design, seed = args
    sc = scenario.with_plans(plans)
    actuated = ActuatedParams() if kind.endswith("actuated") else None
    if kind.startswith("adaptive"):
        tod = [TimeOfDayPlan(0.0, "stale", plans, design)]
        r = run_adaptive(sc, tod, seed, AdaptiveParams(), kind=kind, actuated=actuated)
        if r.unsafe:
            raise AssertionError(f"unsafe plans applied: {r.unsafe[:3]}")
    else:
        r = run_fixed(sc, kind, seed, actuated=actuated)
    return base, family, r


def run(scenarios: list[str], families: list[str], seeds: list[int], jobs: int,
        kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    params = AdaptiveParams()
    tasks = []
    info: dict[str, dict[str, Any]] = {}
    for base in scenarios:
        sc = load_scenario(base)
        stale = dict(optimize(sc, params.method, webster=params.webster, name="stale").plans)
        design = scenario_design_veh_h(sc)
        info[base] = {"stale_cycle_s": stale[next(iter(stale))].cycle_s, "families": {}}
        for family in families:
            drifted = FAMILY_FNS[family](sc)
            oracle = dict(optimize(drifted, params.method, webster=params.webster, name="oracle").plans)
            info[base]["families"][family] = {
                "oracle_cycle_s": oracle[next(iter(oracle))].cycle_s,
                "demand_veh": drifted.demand.expected_vehicles(), "base_demand_veh": sc.demand.expected_vehicles()}
            for kind in kinds:
                plans = oracle if kind.startswith("oracle") else stale
                tasks += [(base, family, kind, drifted, plans, design, s) for s in seeds]
    results: dict[tuple[str, str, str], dict[int, RunResult]] = {}
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        for base, family, r in pool.map(_task, tasks):
            results.setdefault((base, family, r.kind), {})[r.seed] = r
    out: dict[str, Any] = {"seeds": seeds, "kinds": list(kinds),
                           "metric": "all-vehicle mean time loss (s), Greenwave simulator",
                           "event_window_s": list(EVENT_S), "families_text": FAMILY_TEXT,
                           "wall_s": time.perf_counter() - t0, "scenarios": {}}
    for base in scenarios:
        block: dict[str, Any] = {"stale_cycle_s": info[base]["stale_cycle_s"], "families": {}}
        for family in families:
            fam: dict[str, Any] = dict(info[base]["families"][family])
            fam["controllers"] = {}
            for kind in kinds:
                by_seed = results[(base, family, kind)]
                v = [by_seed[s].metrics["mean_time_loss_s"] for s in seeds]
                fam["controllers"][kind] = {
                    "mean_time_loss_s": statistics.fmean(v), "sd": _sd(v), "per_seed": v,
                    "queue_growth_veh_h": statistics.fmean(by_seed[s].metrics["queue_growth_veh_h"] for s in seeds),
                    "plan_changes": statistics.fmean(by_seed[s].plan_changes for s in seeds)}
            fam["gains_pct"] = {}
            for a, b in GAINS:
                if a not in kinds or b not in kinds:
                    continue
                ra, rb = results[(base, family, a)], results[(base, family, b)]
                g = [100.0 * (1.0 - ra[s].metrics["mean_time_loss_s"] / rb[s].metrics["mean_time_loss_s"])
                     for s in seeds]
                fam["gains_pct"][f"{a}_vs_{b}"] = {"mean": statistics.fmean(g), "sd": _sd(g)}
            block["families"][family] = fam
        out["scenarios"][base] = block
    return out


def _sd(v: list[float]) -> float:
    return statistics.stdev(v) if len(v) > 1 else 0.0


def print_table(res: dict[str, Any]) -> None:
    print(f"{res['metric']}, seeds {res['seeds'][0]}..{res['seeds'][-1]}; gains paired by seed: mean (sd) %\n")
    short = {"stale_fixed": "stale", "stale_actuated": "stale+act", "adaptive_plans": "adapt",
             "adaptive_actuated": "adapt+act", "oracle_fixed": "oracle", "oracle_actuated": "oracle+act"}
    kinds = [k for k in KINDS if k in res["kinds"]]
    head = " ".join(f"{short[k]:>10s}" for k in kinds)
    gains = ("adaptive_plans_vs_stale_fixed", "adaptive_actuated_vs_stale_actuated", "oracle_fixed_vs_stale_fixed")
    ghead = ["adapt vs stale", "adapt+act vs stale+act", "oracle vs stale"]
    for base, block in res["scenarios"].items():
        print(f"{base} (stale plan cycle {block['stale_cycle_s']:g} s)")
        print(f"  {'family':10s} {head}   " + "  ".join(f"{h:>22s}" for h in ghead))
        for family, fam in block["families"].items():
            c = fam["controllers"]
            row = " ".join(f"{c[k]['mean_time_loss_s']:10.2f}" for k in kinds)
            g = "  ".join(f"{fam['gains_pct'][k]['mean']:+12.1f} ({fam['gains_pct'][k]['sd']:4.1f})     "
                          for k in gains)
            print(f"  {family:10s} {row}   {g}")
        print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--kinds", default=",".join(KINDS), help="controllers to run (default all)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/stale_plans.json")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    unknown = [f for f in families if f not in FAMILY_FNS]
    if unknown:
        print(f"unknown families {unknown} (known: {', '.join(FAMILIES)})", file=sys.stderr)
        return 2
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not kinds or any(k not in KINDS for k in kinds):
        print(f"--kinds: choose among {', '.join(KINDS)}", file=sys.stderr)
        return 2
    if args.seeds < 1 or args.jobs < 1:
        print("--seeds and --jobs must be >= 1", file=sys.stderr)
        return 2
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    res = run([s for s in args.scenarios.split(",") if s], families, seeds, args.jobs, kinds)
    print_table(res)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
