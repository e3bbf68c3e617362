"""``greenwave demo``: the README's main job (see ``greenwave.demo.core``)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from greenwave.cli.common import (
    MAX_DURATION_S,
    MAX_SEEDS,
    duration_arg,
    jobs_arg,
    max_jobs,
    output_folder,
    positive_float,
    require_extra,
    seeds_arg,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="adaptive control vs the best fixed plan vs the scenario's plan, in simulation",
                       description="Run the 3-h time-varying arterial with the adaptive controller (counts from "
                                   "the simulator's detectors; its plans run coordinated-actuated), the best fixed "
                                   "plan Greenwave's optimiser makes for the average demand, and the scenario's own "
                                   "plan; print the comparison and write a report (delay over time, time-space "
                                   "diagram of the final plan).")
    p.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO",
                   help="scenario file or built-in name (default arterial_timevarying)")
    p.add_argument("--seeds", type=seeds_arg, default=3, metavar="N",
                   help=f"run seeds 1..N (default %(default)s, at most {MAX_SEEDS})")
    p.add_argument("--duration-s", type=duration_arg, default=None, metavar="T",
                   help=f"simulate only the first T seconds (at most {MAX_DURATION_S:g}; default: the whole "
                        "scenario)")
    p.add_argument("--hours", type=positive_float(MAX_DURATION_S / 3600.0), default=None, metavar="H",
                   help=f"same as --duration-s 3600*H (at most {MAX_DURATION_S / 3600.0:g})")
    p.add_argument("--jobs", type=jobs_arg, default=2, metavar="J",
                   help=f"parallel processes (default %(default)s, at most {max_jobs()})")
    p.add_argument("--out", type=output_folder, default="greenwave-demo", metavar="DIR",
                   help="folder for the report files, created when missing; an existing file of that name is "
                        "refused (default ./%(default)s)")
    p.add_argument("--video", metavar="CLIP", default=None,
                   help="a video clip whose counts feed the controller for the camera's intersection instead "
                        "of its simulated detector (replayed in a loop; needs --camera-config and the detect extra)")
    p.add_argument("--camera-config", metavar="CAMERA.json", default=None,
                   help="the clip's camera config: its intersection and count lines keyed by movement ids")
    p.add_argument("--model", default=None, metavar="PATH", help="detection model for --video (default: detection's)")
    p.add_argument("--camera-interval-s", type=positive_float(3600.0), default=60.0, metavar="S",
                   help="counting interval of the clip (default %(default)s)")
    p.add_argument("--no-actuated", action="store_true",
                   help="run the adaptive controller's plans as fixed time between re-plans (default: "
                        "coordinated-actuated: side stages on call with gap-out, unused time back to the arterial, "
                        "side streets served between platoons)")
    p.add_argument("--corridor", default=None, metavar="NODE,NODE,...",
                   help="signals (intersection or node ids) to coordinate, outbound order (default: the busiest "
                        "straight chain of signals; none where the network has no straight chain)")
    p.add_argument("--json", action="store_true",
                   help='print {"adaptive": {...}, "best_fixed": {...}, "fixed": {...}, "report": PATH}')
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from greenwave.demo.core import DEFAULT_SCENARIO, DemoConfig, run_demo
    from greenwave.demo.output import json_safe, summary, table, write_report
    from signal_control.coordinated_actuated import ActuatedParams
    from traffic.errors import ScenarioError

    if args.hours is not None and args.duration_s is not None:
        raise ScenarioError("give --hours or --duration-s, not both")
    duration = args.hours * 3600.0 if args.hours is not None else args.duration_s
    if (args.video is None) != (args.camera_config is None):
        raise ScenarioError("--video and --camera-config go together")
    scenario_name = args.scenario or DEFAULT_SCENARIO
    camera = None
    if args.video:
        require_extra("demo --video", "detect", "ultralytics", "cv2")
        from detection.detector import DEFAULT_MODEL
        from greenwave.demo.camera import feed_from_video
        from traffic.scenario_io import load_scenario

        camera = feed_from_video(args.video, args.camera_config, load_scenario(scenario_name),
                                 args.model or DEFAULT_MODEL, args.camera_interval_s)
    cfg = DemoConfig(scenario=scenario_name, seeds=tuple(range(1, args.seeds + 1)),
                     duration_s=duration, jobs=args.jobs, camera=camera,
                     actuated=None if args.no_actuated else ActuatedParams(),
                     corridor=_corridor(args.corridor))
    if cfg.corridor:  # refuse a bad corridor before anything is printed or written
        from signal_control.corridor import build_corridor
        from traffic.scenario_io import load_scenario

        scenario = load_scenario(scenario_name)
        if len(scenario.intersections) < 2:
            raise ScenarioError(f"--corridor: scenario {scenario.name!r} has one signal, nothing to coordinate")
        build_corridor(scenario, cfg.corridor)
    t0 = time.perf_counter()
    quiet = args.json

    def progress(msg: str) -> None:
        if not quiet:
            print(f"  done: {msg}", file=sys.stderr, flush=True)

    if not quiet:
        print(f"greenwave demo: {cfg.scenario}, 3 controllers x {len(cfg.seeds)} seeds ...", file=sys.stderr)
    result = run_demo(cfg, progress)
    report = write_report(result, args.out)
    if result.unsafe_plans():
        print("greenwave demo: UNSAFE plans were produced:\n  " + "\n  ".join(result.unsafe_plans()), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(json_safe(summary(result)), indent=1))
        return 0
    span = (cfg.duration_s or result.scenario.end_s - result.scenario.begin_s) / 3600.0
    print(f"{result.scenario.name}: {span:g} h simulated, mean of seeds 1..{len(cfg.seeds)}, "
          f"{time.perf_counter() - t0:.0f} s wall\n")
    print(table(result))
    if camera is not None:
        print(f"\ncounts of {camera.intersection} from {args.video} ({len(camera.intervals)} intervals, looped)")
    print(f"\n{result.plans_checked()} adaptive plans safety-checked, none unsafe")
    print(f"report: {report}")
    print("files:  " + ", ".join(str(f) for f in result.files))
    return 0


def _corridor(text: str | None) -> tuple[str, ...] | None:
    from traffic.errors import ScenarioError

    if text is None:
        return None
    nodes = tuple(n.strip() for n in text.split(",") if n.strip())
    if len(nodes) < 2:
        raise ScenarioError(f"--corridor needs two or more signals separated by commas, got {text!r}")
    return nodes
