"""``greenwave optimize``: optimised, safety-checked plans from a scenario's demand."""

from __future__ import annotations

import argparse
import json
import math

from greenwave.cli.common import output_file, positive_float
from traffic.safety_defaults import DEFAULT_MAX_CYCLE_S


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="optimise cycle, splits and offsets (Webster, bandwidth, delay)",
                       description="Compute safe signal plans for every intersection: Webster cycle and splits, "
                                   "two-way green-wave offsets (bandwidth) or TRANSYT-style delay-and-stops "
                                   "minimisation over cycle, splits and offsets.")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario JSON file or built-in scenario name")
    p.add_argument("--method", choices=("webster", "bandwidth", "delay"), default="delay",
                   help="optimisation method (default %(default)s)")
    p.add_argument("--corridor", metavar="NODES", default=None,
                   help="comma-separated signals of the arterial in outbound order (default: the busiest "
                        "straight chain)")
    max_cycle_s = DEFAULT_MAX_CYCLE_S
    p.add_argument("--cycle-s", type=positive_float(max_cycle_s), default=None,
                   help=f"impose a common cycle (> 0 and <= {max_cycle_s:g} s, the safety rules' maximum)")
    p.add_argument("--keep-splits", action="store_true", help="keep the active plans' cycle and greens; offsets only")
    p.add_argument("--weights", metavar="OUT,IN", default="1,1", help="bandwidth weight per direction (default 1,1)")
    p.add_argument("--saturation", choices=("hcm", "sumo"), default="hcm",
                   help="saturation flows and lost times: HCM defaults or those measured in SUMO micro")
    p.add_argument("--out", metavar="PLAN.json", type=output_file(), default=None,
                   help="write the plans as a plan file (its folder must exist)")
    p.add_argument("--plot", metavar="FILE.png", type=output_file((".png",)), default=None,
                   help="draw the corridor's time-space diagram")
    p.add_argument("--json", action="store_true", help="print the plans and predicted figures as JSON")
    p.set_defaults(func=_optimize)


def _optimize(args: argparse.Namespace) -> int:
    from signal_control.errors import OptimizerError
    from signal_control.optimize import optimize
    from signal_control.params import HCM, SUMO_MICRO, BandwidthParams
    from traffic.scenario_io import load_scenario, plan_to_model, save_plan_file

    try:
        w_out, w_in = (float(x) for x in args.weights.split(","))
    except ValueError:
        raise OptimizerError(f"--weights must be two numbers OUT,IN, got {args.weights!r}") from None
    if not all(math.isfinite(w) and w >= 0 for w in (w_out, w_in)) or w_out + w_in == 0:
        raise OptimizerError(f"--weights must be two finite numbers >= 0, not both 0, got {args.weights!r}")
    if args.cycle_s is not None and (args.method == "webster" or args.keep_splits):
        raise OptimizerError(f"--cycle-s is not used by {'--keep-splits' if args.keep_splits else '--method webster'} "
                             "(it keeps or computes each plan's own cycle)")
    scenario = load_scenario(args.scenario)
    corridor = [n.strip() for n in args.corridor.split(",") if n.strip()] if args.corridor else None
    result = optimize(scenario, args.method, corridor=corridor, cycle_s=args.cycle_s, keep_splits=args.keep_splits,
                      webster=SUMO_MICRO if args.saturation == "sumo" else HCM,
                      band=BandwidthParams(weight_outbound=w_out, weight_inbound=w_in))
    if args.cycle_s is not None and abs(result.cycle_s - args.cycle_s) > 1e-6:  # refused before anything is written
        raise OptimizerError(f"--cycle-s {args.cycle_s:g} cannot be imposed: the optimiser could make safe plans "
                             f"only with a {result.cycle_s:g} s cycle (minimum greens, yellows, all-reds)")
    if args.plot and result.corridor is None:
        raise OptimizerError("--plot needs a corridor of two or more signals")
    if args.out:
        save_plan_file(result.plans, args.out)
    if args.plot and result.corridor is not None:  # a plot without a corridor is refused above
        from signal_control.tsd import plot_time_space

        plot_time_space(result.corridor, result.plans, args.plot)
    if args.json:
        print(json.dumps({"predicted": result.summary(),
                          "plans": [plan_to_model(p).model_dump() for p in result.plans.values()]}, indent=1))
        return 0
    s = result.summary()
    print(f"{result.method}: {len(result.plans)} plan(s), cycle {s['cycle_s']} s")
    if "bandwidth" in s:
        b = s["bandwidth"]
        print(f"corridor {' > '.join(s['corridor'])}: band outbound {b['outbound_s']} s ({b['outbound_pct']}%), "
              f"inbound {b['inbound_s']} s ({b['inbound_pct']}%)")
    if "predicted_pi_veh_s_per_s" in s:
        print(f"predicted: PI {s['predicted_pi_veh_s_per_s']} veh-s/s, {s['predicted_mean_delay_s']} s per vehicle "
              "and signal")
    for iid, p in result.plans.items():
        greens = "/".join(f"{ph.green_s:g}" for ph in p.phases)
        print(f"  {iid}: cycle {p.cycle_s:g} s, offset {p.offset_s:g} s, greens {greens}")
    for w in result.warnings:
        print(f"warning: {w}")
    if args.out:
        print(f"wrote {args.out}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0
