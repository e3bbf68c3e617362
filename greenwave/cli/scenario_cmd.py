"""``greenwave scenario``: import, show and list scenarios."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from greenwave.cli.common import float_in, output_file
from traffic.errors import ScenarioError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenario", help="import, show and list scenarios",
                       description="Import SUMO files as a scenario, show a scenario, list the built-in ones.")
    s = p.add_subparsers(dest="scenario_command", metavar="ACTION")
    s.required = True

    imp = s.add_parser("import", help="build a scenario JSON from SUMO net, route and additional files",
                       description="Import a SUMO network (.net.xml) or a whole SUMO configuration (.sumocfg: "
                                   "its net, route and additional files and its begin/end window), the demand "
                                   "(.rou.xml; trips are routed by fastest free-flow route) and signal programs. "
                                   "A program defined in an additional file becomes the active plan of its "
                                   "signal (the last one loaded wins, as in SUMO).")
    imp.add_argument("net", metavar="NET.net.xml|CONFIG.sumocfg", help="SUMO network file or configuration")
    imp.add_argument("--routes", nargs="+", default=[], metavar="ROUTES.rou.xml", help="SUMO route files")
    imp.add_argument("--additional", nargs="+", default=[], metavar="TLS.add.xml",
                     help="additional files with tlLogic programs")
    imp.add_argument("-o", "--output", required=True, type=output_file(), metavar="SCENARIO.json",
                     help="where to write the scenario (its folder must exist)")
    imp.add_argument("--name", default=None, help="scenario name (default: the net file's name)")
    imp.add_argument("--begin-s", type=float_in(0.0, 1e9), default=None,
                     help="start of the simulated window (default: demand)")
    imp.add_argument("--end-s", type=float_in(0.0, 1e9), default=None,
                     help="end of the simulated window (default: demand)")
    imp.add_argument("--route-group", action="append", default=None, metavar="NAME=PATTERN[,PATTERN...]",
                     help="a named group of routes for reporting (shell wildcards over route ids, e.g. "
                          "'EB_turning=EB_to_*'); repeatable. Default: one group per named route")
    imp.set_defaults(func=_import)

    show = s.add_parser("show", help="print a readable summary of a scenario",
                        description="Summarise intersections, lane groups, plans and demand.")
    show.add_argument("scenario", metavar="SCENARIO", help="scenario JSON file or built-in scenario name")
    show.add_argument("--all", action="store_true", help="list every intersection")
    show.add_argument("--json", action="store_true", help="print the whole scenario as JSON")
    show.set_defaults(func=_show)

    lst = s.add_parser("list", help="list the built-in scenarios", description="List the built-in scenarios.")
    lst.set_defaults(func=_list)


def _import(args: argparse.Namespace) -> int:
    from traffic.scenario_io import save_scenario
    from traffic.sumo import import_sumo

    groups = None
    if args.route_group:
        groups = {}
        for spec in args.route_group:
            name, sep, pats = spec.partition("=")
            if not sep or not name or not pats:
                raise ScenarioError(f"--route-group {spec!r}: expected NAME=PATTERN[,PATTERN...]")
            groups[name] = tuple(p for p in pats.split(",") if p)
    net, routes, additional, begin_s, end_s = args.net, args.routes, args.additional, args.begin_s, args.end_s
    if str(net).endswith(".sumocfg"):
        from traffic.sumo.config import read_sumocfg

        cfg = read_sumocfg(net)
        net, routes, additional = cfg.net, [*cfg.routes, *routes], [*cfg.additional, *additional]
        begin_s = cfg.begin_s if begin_s is None else begin_s
        end_s = cfg.end_s if end_s is None else end_s
    scenario = import_sumo(net, routes, additional, name=args.name or Path(args.net).name.split(".")[0],
                           begin_s=begin_s, end_s=end_s, route_groups=groups)
    save_scenario(scenario, args.output)
    print(f"wrote {args.output}: {len(scenario.intersections)} signals, {len(scenario.network.links)} links, "
          f"{len(scenario.demand.flows)} flows, {len(scenario.demand.trips)} trips")
    return 0


def _show(args: argparse.Namespace) -> int:
    from traffic.scenario_io import load_scenario, scenario_to_model
    from traffic.summary import describe_scenario

    scenario = load_scenario(args.scenario)
    if args.json:
        print(json.dumps(scenario_to_model(scenario).model_dump(), indent=1))
    else:
        print(describe_scenario(scenario, max_intersections=10**9 if args.all else 12))
    return 0


def _list(args: argparse.Namespace) -> int:
    from traffic.scenario_io import builtin_scenarios, load_scenario

    for name in builtin_scenarios():
        sc = load_scenario(name)
        print(f"{name:20s} {len(sc.intersections):3d} signals  {sc.description}")
    return 0
