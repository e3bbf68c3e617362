"""``greenwave simulate``: run a scenario in the simulator and report its metrics."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from typing import Any

from greenwave.cli.common import (
    MAX_DURATION_S,
    MAX_SEEDS,
    add_plan_arg,
    add_scenario_arg,
    duration_arg,
    float_in,
    jobs_arg,
    max_jobs,
    positive_float,
    scenario_with_plan,
    seed_arg,
    seeds_arg,
)
from signal_control import registry
from traffic.errors import ScenarioError

CONTROLLERS = registry.names(lacking=("follows_plans",), with_fixed=True)
"""What ``--controller`` offers (the registry's names; ``--actuated`` adds the controller that follows plans)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run a scenario in Greenwave's simulator",
                       description="Simulate a scenario under its active signal plans (or --plan) and print trip "
                                   "metrics, per-lane-group control delay and flow, and route-group figures. With "
                                   "--seeds N, seeds 1..N are run and every figure is their mean; an 'sd' block "
                                   "beside each block holds the standard deviations.")
    add_scenario_arg(p)
    add_plan_arg(p)
    p.add_argument("--seeds", type=seeds_arg, default=None, metavar="N",
                   help=f"run seeds 1..N and average them (N <= {MAX_SEEDS})")
    p.add_argument("--seed", type=seed_arg, default=1, metavar="S", help="the seed of a single run (default 1)")
    p.add_argument("--duration-s", type=duration_arg, default=None, metavar="T",
                   help=f"simulated time (at most {MAX_DURATION_S:g} s, seven days); default: until every "
                        "vehicle of the demand has arrived")
    p.add_argument("--jobs", type=jobs_arg, default=1, metavar="J",
                   help=f"run seeds in J processes (default 1, at most {max_jobs()})")
    p.add_argument("--queue-interval-s", type=float_in(0.0, MAX_DURATION_S), default=300.0, metavar="S",
                   help="sample each lane group's queue (vehicles) every S seconds into 'queue_veh' "
                        "(default %(default)s; 0 turns it off)")
    p.add_argument("--controller", choices=CONTROLLERS, default="fixed",
                   help="fixed: run the plans as they are (default); adaptive: the adaptive controller "
                        "re-optimises from the simulated detectors' counts (time-of-day fallback: the plans "
                        "in force at the start); max-pressure, adaptive-stage: stage control (no cycle: every "
                        "control step the next stage of each signal, from detectors on the approaches; the "
                        "stages are the green phases of each signal's plan)")
    p.add_argument("--actuated", action="store_true",
                   help="with --controller fixed or adaptive: run the plans coordinated-actuated (cycle and "
                        "offsets kept; side stages served on call from the approach detectors, ended by gap-out "
                        "or force-off; unused time back to the coordinated stage; between platoons, seen by "
                        "110-m advance detectors on the arterial, a called side stage is served at once)")
    p.add_argument("--control-step-s", type=positive_float(3600.0), default=None, metavar="S",
                   help="stage control and --actuated: seconds between decisions (default 5 for stage control, "
                        "1 for --actuated)")
    p.add_argument("--detector-range-m", type=positive_float(10_000.0), default=None, metavar="M",
                   help="stage control and --actuated: detected stretch upstream of each stop line (default 100 "
                        "for stage control, 80 for --actuated)")
    p.add_argument("--reoptimize-every-s", type=positive_float(MAX_DURATION_S), default=900.0, metavar="S",
                   help="adaptive: re-optimisation period (default %(default)s)")
    p.add_argument("--dynamic-routing", action="store_true",
                   help="route origin-destination trips and flows when they enter, on current travel times "
                        "(as SUMO's rerouting device; default: the static fastest free-flow route of the import)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=_simulate)


class _NoBar:
    """What ``_progress_bar`` returns when stderr is not a terminal (where tqdm would draw nothing)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: float = 1) -> None:
        return None


def _progress_bar(**kwargs: Any) -> Any:
    """A tqdm bar on stderr when it is a terminal; otherwise ``_NoBar``, without importing tqdm (start-up)."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=None, leave=False, **kwargs)


def _simulate(args: argparse.Namespace) -> int:
    from simulation.params import DEFAULT_PARAMS
    from simulation.runner import simulate, simulate_seeds

    interval = args.queue_interval_s or None  # the argument types bound every number (greenwave.cli.common)
    scenario = scenario_with_plan(args)
    params = replace(DEFAULT_PARAMS, dynamic_routing=True) if args.dynamic_routing else DEFAULT_PARAMS
    seeds = list(range(1, args.seeds + 1)) if args.seeds else [args.seed]
    staged = registry.get(args.controller).tactical
    if args.actuated and staged:
        raise ScenarioError(f"--actuated runs plans; --controller {args.controller} runs none (use fixed or adaptive)")
    if not (staged or args.actuated) and (args.control_step_s is not None or args.detector_range_m is not None):
        raise ScenarioError("--control-step-s and --detector-range-m apply to stage control and --actuated only")
    _stage_defaults(args)
    if args.control_step_s <= 0 or args.detector_range_m <= 0:
        raise ScenarioError("--control-step-s and --detector-range-m must be > 0")
    if registry.get(args.controller).strategic:
        return _adaptive(args, scenario, seeds, interval or 300.0, params)
    stage = None
    if staged or args.actuated:
        stage = _stage_spec(scenario, args)
        if args.jobs > 1:
            raise ScenarioError("--jobs: stage controllers hold state, so seeds run in series (use --jobs 1)")
    t0 = time.perf_counter()
    if len(seeds) == 1:
        span = args.duration_s or (scenario.end_s - scenario.begin_s)
        with _progress_bar(total=round(span), unit="sim-s", desc="simulating") as bar:
            def tick(now_s: float) -> None:
                bar.update(max(0, min(round(now_s - scenario.begin_s), bar.total) - bar.n))

            result = simulate(scenario, seeds[0], params, duration_s=args.duration_s,
                              progress=None if isinstance(bar, _NoBar) else tick,
                              detector_interval_s=interval, stage_control=stage).as_dict()
        result["sd"] = None
    else:
        with _progress_bar(total=len(seeds), unit="seed", desc="simulating") as bar:
            if stage is not None:
                result = _stage_seeds(scenario, seeds, params, args, interval, lambda: bar.update(1))
            else:
                result = simulate_seeds(scenario, seeds, params, duration_s=args.duration_s, jobs=args.jobs,
                                        progress=lambda: bar.update(1), detector_interval_s=interval)
        result.pop("runs", None)
    plan_names = sorted({scenario.active_plans[i] for i in scenario.intersections})
    plan = args.plan or ",".join(plan_names)
    if staged:
        plan = f"{args.controller} (stages of {plan})"
    elif args.actuated:
        plan = f"{plan} (coordinated-actuated)"
    out = {"scenario": scenario.name, "plan": plan, "seeds": seeds,
           "wall_s": round(time.perf_counter() - t0, 3), **result}
    if args.json:
        print(json.dumps(_clean(out), indent=1))
    else:
        print(_tables(out))
    return 0


def _stage_defaults(args: argparse.Namespace) -> None:
    """Fill in the control step and detector range the mode uses when they were not given."""
    from signal_control.coordinated_actuated import CONTROL_STEP_S, DETECTOR_RANGE_M

    step, reach = (CONTROL_STEP_S, DETECTOR_RANGE_M) if args.actuated else (5.0, 100.0)
    if args.control_step_s is None:
        args.control_step_s = step
    if args.detector_range_m is None:
        args.detector_range_m = reach


def _stage_spec(scenario: Any, args: argparse.Namespace) -> Any:
    """A fresh stage controller on the stages of every signal's plan in force (with ``--actuated``,
    coordinated-actuated control of the plans)."""
    from simulation.stage_control import StageControlSpec
    from traffic.stages import stage_sets

    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    name = "coordinated-actuated" if args.actuated else args.controller
    controller: Any = registry.get(name, having=("tactical",)).load()(sets)
    return StageControlSpec(controller, sets, args.control_step_s, args.detector_range_m)


def _stage_seeds(scenario: Any, seeds: list[int], params: Any, args: argparse.Namespace, interval: float | None,
                 tick: Any) -> dict[str, Any]:
    from simulation.metrics import combine_seeds
    from simulation.runner import simulate

    runs = []
    for seed in seeds:
        runs.append(simulate(scenario, seed, params, duration_s=args.duration_s, detector_interval_s=interval,
                             stage_control=_stage_spec(scenario, args)).as_dict())
        tick()
    return combine_seeds(runs) if len(runs) > 1 else {**runs[0], "sd": None}


def _adaptive(args: argparse.Namespace, scenario: Any, seeds: list[int], interval_s: float,
              sim_params: Any) -> int:
    """Closed loop: one run per seed (controllers hold state, so seeds run in series)."""
    from signal_control.adaptive import AdaptiveParams, TimeOfDayPlan
    from simulation.metrics import combine_seeds
    from simulation.runner import simulate

    t0 = time.perf_counter()
    runs, events = [], []
    params = AdaptiveParams(reoptimize_every_s=args.reoptimize_every_s)
    controller_class = registry.get(args.controller, having=("strategic",)).load()
    for seed in seeds:
        ctl = controller_class(scenario, [TimeOfDayPlan(0.0, "initial", scenario.active_plan_set())], params)
        r = simulate(scenario, seed, sim_params, duration_s=args.duration_s, detector_interval_s=interval_s,
                     controller=ctl, stage_control=_stage_spec(scenario, args) if args.actuated else None)
        runs.append(r.as_dict())
        events += [{"seed": seed, "time_s": e.time_s, "intersection": e.intersection, "event": e.event,
                    "reason": e.reason} for e in ctl.events]
    result = combine_seeds(runs) if len(runs) > 1 else {**runs[0], "sd": None}
    out = {"scenario": scenario.name, "plan": "adaptive (coordinated-actuated)" if args.actuated else "adaptive",
           "controller": args.controller, "seeds": seeds,
           "wall_s": round(time.perf_counter() - t0, 3), **result, "controller_events": events}
    print(json.dumps(_clean(out), indent=1) if args.json else _tables(out))
    return 0


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _tables(out: dict[str, Any]) -> str:
    m, sd = out["metrics"], (out.get("sd") or {}).get("metrics", {})
    seeds = out["seeds"]
    lines = [f"{out['scenario']} under plan {out['plan']}: "
             f"{'seed ' + str(seeds[0]) if len(seeds) == 1 else f'mean of seeds 1..{len(seeds)}'}, "
             f"{out['wall_s']:.2f} s wall", ""]

    def fmt(key: str, digits: int = 1) -> str:
        value = m[key]
        text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
        return text + (f" (sd {sd[key]:.{digits}f})" if key in sd else "")

    for label, key, digits in (("vehicles inserted", "inserted", 0), ("arrived", "arrived", 0),
                               ("arrived by end of demand", "arrived_by_end_of_demand", 0),
                               ("mean travel time s", "mean_travel_time_s", 1),
                               ("mean time loss s", "mean_time_loss_s", 1),
                               ("mean waiting time s", "mean_waiting_time_s", 1), ("mean stops", "mean_stops", 2),
                               ("mean depart delay s", "mean_depart_delay_s", 2),
                               ("vehicle-seconds", "vehicle_seconds", 0), ("teleports", "teleports", 0)):
        lines.append(f"  {label:28s} {fmt(key, digits)}")
    lines += ["", f"  {'intersection':14s} {'lane group':16s} {'flow veh/h':>10s} {'control delay s':>16s}  movements"]
    for g in out["lane_groups"]:
        lines.append(f"  {g['node']:14s} {g['lane_group']:16s} {g['flow_veh_h']:10.0f} "
                     f"{g['control_delay_s']:16.1f}  {', '.join(g['movements'])}")
    if out["route_groups"]:
        lines += ["", f"  {'route group':20s} {'n':>7s} {'travel time s':>14s} {'time loss s':>12s} {'stops':>6s}"]
        for name, r in list(out["route_groups"].items())[:40]:
            lines.append(f"  {name:20s} {r['n']:7.0f} {r['mean_travel_time_s']:14.1f} "
                         f"{r['mean_time_loss_s']:12.1f} {r['mean_stops']:6.2f}")
        if len(out["route_groups"]) > 40:
            lines.append(f"  ... {len(out['route_groups']) - 40} more route groups (see --json)")
    return "\n".join(lines)
