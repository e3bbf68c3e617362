"""Closed loop on the 3-h time-varying arterial (issue: adaptive control proven in simulation).

Greenwave's simulator, seeds 1..N (or from ``--first-seed``), all-vehicle mean time loss, for:

  fixed            the scenario's own 90-s plan
  best_fixed       the best single plan Greenwave's optimiser makes offline for the 3-h average
                   demand (delay method, SUMO-micro saturation flows: what the adaptive controller uses)
  best_fixed_hcm   the same with the optimiser's HCM defaults (``greenwave optimize`` default)
  sumo_tools       SUMO's tool chain on the 3-h average demand: tlsCycleAdaptation.py -u, then
                   tlsCoordinator.py (skipped, with a note, when the SUMO tools are missing)
  adaptive         the adaptive controller in the loop with the simulator's detectors
                   (time-of-day plan = best_fixed), its plans run coordinated-actuated
                   (signal_control/coordinated_actuated.py), as ``greenwave demo`` runs it
  adaptive_outage  the same with the camera of one intersection (I3) delivering nothing for 30 min
                   at the peak (its counts stop: failsafe to its time-of-day plan, and its presence
                   detection is gone: the signal runs on recall, its plan as fixed time), then back
  adaptive_plans_only  the adaptive controller with its plans run as fixed time between re-plans
  best_fixed_actuated  best_fixed run coordinated-actuated, never re-planned: actuation alone
  max_pressure     stage control (no cycle, no coordination) on the stages of best_fixed: max pressure
  adaptive_stage   the same with Greenwave's adaptive stage control (signal_control/adaptive_stage.py)

Optional: ``--bound`` adds a hindsight bound (benchmarks/_closed_loop_bound.py): slice by slice the
best of the optimiser's fixed plans (average demand at cycles 30..80 s, and each slice's true
demand), i.e. what a switching controller with perfect foresight and free transitions could reach;
``--sumo-micro`` runs the fixed plans in SUMO micro on the same time-varying demand (exported
programs); ``--sumo-loop`` runs the fixed plans and the adaptive controller in SUMO micro through
libsumo, the controller in the loop with counts measured in SUMO, and actuation from detectors
added in SUMO (benchmarks/_closed_loop_libsumo.py).

Every plan the controller asks for is safety-validated in the run (and again by the simulator);
the script fails if any is unsafe. Gains are paired by seed (mean and sd of the per-seed gain).

Usage: python benchmarks/closed_loop.py [--seeds 10] [--first-seed 1] [--jobs 2]
       [--out benchmarks/results/closed_loop.json] [--no-sumo-tools] [--bound] [--sumo-micro] [--sumo-loop]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._sumo_eval import REF_SCN
from greenwave.demo.runs import CameraOutage, RunResult, run_adaptive, run_fixed, run_stage
from signal_control.adaptive import AdaptiveParams, TimeOfDayPlan, scenario_design_veh_h
from signal_control.coordinated_actuated import ActuatedParams
from signal_control.optimize import optimize
from signal_control.params import HCM, SUMO_MICRO
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario
from traffic.signal_plan import SignalPlan

SCENARIO = "arterial_timevarying"
OUTAGE = CameraOutage("I3", 3600.0, 5400.0)
ACTUATED = ActuatedParams()


def _task(args: tuple) -> RunResult:
    kind, scenario, plans, seed, params, outage = args
    sc = scenario.with_plans(plans) if plans else scenario
    if kind in ("max_pressure", "adaptive_stage"):
        return run_stage(sc, kind, seed)
    if params is None:
        return run_fixed(sc, kind, seed, actuated=ACTUATED if kind == "best_fixed_actuated" else None)
    tod = [TimeOfDayPlan(0.0, "best_fixed", plans, scenario_design_veh_h(sc))]  # made for the average demand
    return run_adaptive(sc, tod, seed, params, outage=outage, kind=kind,
                        actuated=None if kind == "adaptive_plans_only" else ACTUATED)


def candidate_plans(scenario: Scenario, sumo_tools: bool) -> tuple[dict[str, dict[str, SignalPlan] | None], list[str]]:
    notes = []
    out: dict[str, dict[str, SignalPlan] | None] = {
        "fixed": None,
        "best_fixed": dict(optimize(scenario, "delay", webster=SUMO_MICRO, name="best_fixed").plans),
        "best_fixed_hcm": dict(optimize(scenario, "delay", webster=HCM, name="best_fixed_hcm").plans)}
    if sumo_tools:
        try:
            from benchmarks._sumo_tools_chain import sumo_chain_plans

            with tempfile.TemporaryDirectory(prefix="gw_tools_") as d:
                out["sumo_tools"] = sumo_chain_plans(scenario, REF_SCN / "arterial.net.xml",
                                                     REF_SCN / "arterial.rou.xml", Path(d))
        except (ImportError, OSError, RuntimeError) as exc:
            notes.append(f"sumo_tools skipped: {exc}")
    tools = out.get("sumo_tools")
    if tools:  # SUMO's tools know no pedestrian minimum: their plans run only where they are deployable
        from traffic.plan_validation import validate_plan

        issues = [i for iid, p in tools.items() for i in validate_plan(p, scenario.intersections[iid])]
        if issues:
            del out["sumo_tools"]
            notes.append(f"sumo_tools skipped: {len(issues)} safety issue(s) in its plans, e.g. {issues[0]}")
    return out, notes


def run(seeds: list[int], jobs: int, sumo_tools: bool, params: AdaptiveParams) -> dict:
    scenario = load_scenario(SCENARIO)
    plans, notes = candidate_plans(scenario, sumo_tools)
    best = plans["best_fixed"]
    tasks = [(k, scenario, p, s, None, None) for k, p in plans.items() for s in seeds]
    tasks += [("adaptive", scenario, best, s, params, None) for s in seeds]
    tasks += [("adaptive_outage", scenario, best, s, params, OUTAGE) for s in seeds]
    tasks += [("adaptive_plans_only", scenario, best, s, params, None) for s in seeds]
    tasks += [("best_fixed_actuated", scenario, best, s, None, None) for s in seeds]
    tasks += [(k, scenario, best, s, None, None) for k in ("max_pressure", "adaptive_stage") for s in seeds]
    results: dict[str, dict[int, RunResult]] = {}
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        for r in pool.map(_task, tasks):
            results.setdefault(r.kind, {})[r.seed] = r
    planned = ("adaptive", "adaptive_outage", "adaptive_plans_only")
    unsafe = [p for k in planned for r in results[k].values() for p in r.unsafe]
    checked = sum(r.plans_checked for k in planned for r in results[k].values())
    assert not unsafe, f"unsafe plans applied: {unsafe[:5]}"
    out = {"scenario": SCENARIO, "seeds": seeds, "notes": notes, "plans_checked": checked, "unsafe_plans": 0,
           "outage": {"intersection": OUTAGE.intersection, "start_s": OUTAGE.start_s, "end_s": OUTAGE.end_s},
           "cycles_s": {k: (p[next(iter(p))].cycle_s if p else 90.0) for k, p in plans.items()},
           "controllers": {}, "gains_pct": {}}
    for kind, by_seed in results.items():
        v = [by_seed[s].metrics["mean_time_loss_s"] for s in seeds]
        out["controllers"][kind] = {"mean_time_loss_s": statistics.fmean(v), "sd": _sd(v),
                                    "mean_stops": statistics.fmean(by_seed[s].metrics["mean_stops"] for s in seeds),
                                    "plan_changes": statistics.fmean(by_seed[s].plan_changes for s in seeds),
                                    "per_seed": v}
    controlled = ("adaptive", "adaptive_outage", "adaptive_plans_only", "best_fixed_actuated", "max_pressure",
                  "adaptive_stage")
    for controller in ("adaptive", "adaptive_plans_only", "best_fixed_actuated", "adaptive_stage", "max_pressure"):
        mine = results[controller]
        for kind in results:
            if kind in controlled:
                continue
            if controller != "adaptive" and kind not in ("best_fixed", "sumo_tools"):
                continue
            g = [100.0 * (1.0 - mine[s].metrics["mean_time_loss_s"] / results[kind][s].metrics["mean_time_loss_s"])
                 for s in seeds]
            out["gains_pct"][f"{controller}_vs_{kind}"] = {"mean": statistics.fmean(g), "sd": _sd(g)}
    adaptive = results["adaptive"]
    events = results["adaptive_outage"][seeds[0]].events
    out["outage_events_first_seed"] = [e for e in events if e["intersection"] == OUTAGE.intersection]
    outage = results["adaptive_outage"]
    worse = [100.0 * (outage[s].metrics["mean_time_loss_s"] / adaptive[s].metrics["mean_time_loss_s"] - 1.0)
             for s in seeds]
    out["outage_worse_than_healthy_pct"] = {"mean": statistics.fmean(worse), "sd": _sd(worse)}
    return out


def _sd(v: list[float]) -> float:
    return statistics.stdev(v) if len(v) > 1 else 0.0


def print_table(res: dict) -> None:
    first, last = res["seeds"][0], res["seeds"][-1]
    print(f"{res['scenario']}: Greenwave simulator, seeds {first}..{last}, all-vehicle mean time loss\n")
    print(f"  {'controller':18s} {'cycle s':>8s} {'time loss s':>12s} {'sd':>6s} {'stops':>6s} {'plan changes':>13s}")
    for kind, c in res["controllers"].items():
        cyc = res["cycles_s"].get(kind, "")
        print(f"  {kind:18s} {cyc!s:>8s} {c['mean_time_loss_s']:12.2f} {c['sd']:6.2f} {c['mean_stops']:6.2f} "
              f"{c['plan_changes']:13.1f}")
    print()
    for k, g in res["gains_pct"].items():
        print(f"  {k:34s} {g['mean']:+6.1f}% (sd {g['sd']:.1f}) less time loss")
    w = res["outage_worse_than_healthy_pct"]
    print(f"  {'adaptive_outage vs adaptive':34s} {w['mean']:+6.1f}% (sd {w['sd']:.1f}) more time loss "
          f"({res['outage']['intersection']}'s camera out {res['outage']['start_s']:g}-{res['outage']['end_s']:g} s)")
    print(f"\n  {res['plans_checked']} adaptive plans safety-checked, {res['unsafe_plans']} unsafe")
    for e in res["outage_events_first_seed"]:
        print(f"  seed {res['seeds'][0]}: t={e['time_s']:.0f} s {e['intersection']} -> {e['event']} ({e['reason']})")
    if "bound" in res:
        b, best = res["bound"], res["controllers"]["best_fixed"]["mean_time_loss_s"]
        print(f"\n  hindsight bound of plan switching: {b['bound_mean_time_loss_s']:.2f} s "
              f"({100 * (1 - b['bound_mean_time_loss_s'] / best):+.1f}% vs best_fixed); best single candidate "
              f"{min(b['candidates_mean_time_loss_s'].values()):.2f} s")
    if "sumo_micro" in res:
        print("\n  SUMO micro, same seeds and time-varying demand (fixed plans):")
        for k, v in res["sumo_micro"].items():
            print(f"    {k:18s} {v['mean']:8.2f} (sd {v['sd']:.2f})")
    if "sumo_loop" in res:
        print("\n  SUMO micro through libsumo, adaptive controller in the loop (counts and presence measured in SUMO):")
        for k, v in res["sumo_loop"].items():
            print(f"    {k:18s} {v['mean']:8.2f} (sd {v['sd']:.2f})")
        for k, g in res["sumo_loop_gains_pct"].items():
            print(f"    {k:34s} {g:+6.1f}% less time loss")
    for note in res["notes"]:
        print(f"  note: {note}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="how many seeds (default %(default)s)")
    ap.add_argument("--first-seed", type=int, default=1,
                    help="seeds run from this one on (default %(default)s; 11 gives the held-out set 11..20)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-sumo-tools", action="store_true", help="skip SUMO's tool chain")
    ap.add_argument("--bound", action="store_true", help="add the hindsight bound of plan switching")
    ap.add_argument("--sumo-micro", action="store_true", help="run the fixed plans in SUMO micro too")
    ap.add_argument("--sumo-loop", action="store_true",
                    help="run the adaptive controller (and the fixed plans) in SUMO micro through libsumo")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "closed_loop.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.seeds < 1:
        ap.error("--seeds must be >= 1")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    res = run(seeds, args.jobs, not args.no_sumo_tools, AdaptiveParams())
    scenario = load_scenario(SCENARIO)
    if args.bound:
        from benchmarks._closed_loop_bound import hindsight_bound

        res["bound"] = hindsight_bound(scenario, SUMO_MICRO, res["seeds"], args.jobs)
    if args.sumo_micro:
        from benchmarks._closed_loop_sumo import run_fixed_in_sumo

        plans, _ = candidate_plans(scenario, not args.no_sumo_tools)
        res["sumo_micro"] = run_fixed_in_sumo(scenario, plans, res["seeds"])
    if args.sumo_loop:
        from benchmarks._closed_loop_libsumo import compare_in_sumo

        plans, _ = candidate_plans(scenario, not args.no_sumo_tools)
        res["sumo_loop"] = compare_in_sumo(scenario, plans, plans["best_fixed"], AdaptiveParams(), res["seeds"],
                                           args.jobs, ACTUATED)
        seeds = res["seeds"]
        a = res["sumo_loop"]["adaptive"]["per_seed"]
        res["sumo_loop_gains_pct"] = {
            f"adaptive_vs_{k}": statistics.fmean(100.0 * (1.0 - a[s] / v["per_seed"][s]) for s in seeds)
            for k, v in res["sumo_loop"].items() if k != "adaptive"}
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    print_table(res)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1), encoding="utf-8")
    print(f"\nwrote {args.out} ({res['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
