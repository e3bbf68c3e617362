"""``greenwave sumo-control``: run a SUMO config with Greenwave's stage controllers driving its signals."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from greenwave.cli.common import (
    MAX_SEEDS,
    BadValue,
    jobs_arg,
    max_jobs,
    output_file,
    positive_float,
    require_extra,
    seed_arg,
    seeds_arg,
)
from signal_control import registry
from traffic.errors import ScenarioError

STAGE_CONTROLLERS = registry.names(having=("tactical",), lacking=("follows_plans",), with_fixed=True)
"""What ``--controller`` offers: ``fixed`` and the tactical controllers that run alone (the registry's names;
importing the registry imports no controller)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sumo-control", help="drive a SUMO simulation's signals with Greenwave's stage controllers",
                       description="Run CONFIG.sumocfg in SUMO (libsumo) with the signals run by a stage controller: "
                                   "every control step it chooses the next stage of each signal from lane-area "
                                   "detectors Greenwave adds on the approaches; the signals show only their own "
                                   "program's stages, with its yellow and all-red and a 5-s minimum green. Prints "
                                   "RESCO's metric (mean timeLoss + departDelay over every tripinfo, unfinished "
                                   "vehicles included) per seed, with the mean and median. Needs the 'sumo' extra.")
    p.add_argument("config", metavar="CONFIG.sumocfg", help="SUMO configuration (net, routes, begin/end)")
    p.add_argument("--controller", choices=STAGE_CONTROLLERS, default="adaptive-stage", type=_stage_controller,
                   help="fixed: the net's own programs, untouched; max-pressure: Varaiya's max pressure; "
                        "adaptive-stage: Greenwave's adaptive stage control (default)")
    p.add_argument("--seeds", type=seeds_arg, default=None, metavar="N", help=f"run SUMO seeds 1..N (N <= {MAX_SEEDS})")
    p.add_argument("--seed", type=seed_arg, default=1, metavar="S", help="the seed of a single run (default 1)")
    p.add_argument("--jobs", type=jobs_arg, default=1, metavar="J",
                   help=f"run seeds in J processes (default 1, at most {max_jobs()})")
    p.add_argument("--control-step-s", type=positive_float(3600.0), default=5.0, metavar="S",
                   help="seconds between decisions (default %(default)s)")
    p.add_argument("--detector-range-m", type=positive_float(10_000.0), default=100.0, metavar="M",
                   help="detected stretch upstream of each stop line (default %(default)s)")
    p.add_argument("--sumo-home", default=None, metavar="DIR",
                   help="another SUMO installation's SUMO_HOME whose libsumo to use (e.g. SUMO 1.9.1)")
    p.add_argument("--tripinfo", type=output_file(), default=None, metavar="FILE.xml",
                   help="keep SUMO's tripinfo (single seed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _stage_controller(text: str) -> str:
    """``--controller``: a name of ``STAGE_CONTROLLERS``; another controller of the registry is refused with
    what it is (``adaptive`` is the plan controller; its stage controller is ``adaptive-stage``)."""
    try:
        return registry.get(text, having=("tactical",), lacking=("follows_plans",)).name
    except registry.UnknownControllerError as exc:
        hint = " (the stage controller is adaptive-stage)" if text == "adaptive" else ""
        raise BadValue(f"{exc}{hint}") from None


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from simulation.sumo_control import run_config_seeds

    config = Path(args.config)
    if not config.is_file():
        raise ScenarioError(f"SUMO config {str(config)!r} not found")
    if args.tripinfo and args.seeds and args.seeds > 1:
        raise ScenarioError("--tripinfo keeps one run's file: use it with --seed, not --seeds")
    if args.sumo_home and not (Path(args.sumo_home) / "tools").is_dir():
        raise ScenarioError(f"--sumo-home {args.sumo_home!r} has no tools/ folder (the 'sumo' folder of eclipse-sumo)")
    if not args.sumo_home:
        require_extra("sumo-control", "sumo", "libsumo")
    seeds = list(range(1, args.seeds + 1)) if args.seeds else [args.seed]
    kwargs: dict = {}
    if args.controller != "fixed":
        kwargs = {"control_step_s": args.control_step_s, "detector_range_m": args.detector_range_m}
    if args.tripinfo:
        kwargs["tripinfo_out"] = Path(args.tripinfo)
    tasks = [(str(config), args.controller, s, args.sumo_home, kwargs) for s in seeds]
    with tqdm(total=len(tasks), unit="run", desc="SUMO", file=sys.stderr, disable=None, leave=False) as bar:
        runs = run_config_seeds(tasks, args.jobs, progress=lambda: bar.update(1))
    delays = [r["resco_delay_s"] for r in runs]
    out = {"config": config.name, "controller": args.controller, "seeds": seeds,
           "resco_delay_s": {"mean": statistics.fmean(delays), "median": statistics.median(delays),
                             "sd": statistics.stdev(delays) if len(delays) > 1 else 0.0},
           "runs": runs}
    if args.json:
        print(json.dumps(out, indent=1, default=str))
        return 0
    print(f"{config.name} under {args.controller}: RESCO average delay (timeLoss + departDelay, s)")
    print(f"  {'seed':>4s} {'delay s':>8s} {'timeLoss':>8s} {'depDelay':>8s} {'trips':>6s} {'unfin':>6s} "
          f"{'ms/step':>8s}")
    for r in runs:
        ms = f"{r['decision_ms_mean']:8.3f}" if "decision_ms_mean" in r else f"{'-':>8s}"
        print(f"  {r['seed']:4d} {r['resco_delay_s']:8.2f} {r['time_loss_s']:8.2f} {r['depart_delay_s']:8.2f} "
              f"{r['trips']:6d} {r['unfinished']:6d} {ms}")
    d = out["resco_delay_s"]
    print(f"  mean {d['mean']:.2f} s, median {d['median']:.2f} s, sd {d['sd']:.2f} s over {len(seeds)} seed(s)")
    return 0
