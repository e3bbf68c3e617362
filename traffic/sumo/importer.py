"""Build a Greenwave scenario from SUMO files."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path

from traffic.demand import Demand
from traffic.errors import ModelError, SumoFormatError
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan
from traffic.sumo.config import read_sumocfg
from traffic.sumo.network import read_sumo_net
from traffic.sumo.routes import read_sumo_routes
from traffic.sumo.tls import plan_from_sumo, read_tls_programs


def import_sumo(net_path: str | Path, route_paths: list[str | Path] | None = None,
                additional_paths: list[str | Path] | None = None, *, name: str | None = None,
                begin_s: float | None = None, end_s: float | None = None,
                route_groups: Mapping[str, Sequence[str]] | None = None) -> Scenario:
    """Import a SUMO network, its demand and signal programs as a scenario.

    Every program in the net and in the additional files is kept by its ``programID``; as in
    SUMO, the last program loaded for a signal becomes its active plan. ``route_groups`` maps a
    reporting name to route-id patterns (shell wildcards, e.g. ``EB_to_*``); without it, each named
    ``<route>`` becomes a route group of its own name.
    """
    sumo_net = read_sumo_net(net_path)
    intersections = sumo_net.intersections
    plans: dict[str, dict[str, SignalPlan]] = {iid: {} for iid in intersections}
    active: dict[str, str] = {}
    programs = [p for progs in sumo_net.programs.values() for p in progs]
    for add in additional_paths or []:
        programs += read_tls_programs(add)
    for prog in programs:
        if prog.tls_id not in intersections:
            raise SumoFormatError(f"tlLogic {prog.tls_id!r} (program {prog.program_id!r}) controls no "
                                  "signal of the net")
        plan = plan_from_sumo(prog, intersections[prog.tls_id])
        plans[prog.tls_id][plan.name] = plan
        active[prog.tls_id] = plan.name
    sd = read_sumo_routes(list(route_paths or []))
    demand = Demand.build(sd.vehicle_types.values(), sd.routes.values(), sd.flows, sd.trips)
    begin = demand.begin_s if begin_s is None else begin_s
    end = (max(demand.end_s, begin + 1.0) if end_s is None else end_s)
    groups = ({r: (r,) for r in sd.named_routes} if route_groups is None
              else _match_groups(route_groups, sd.named_routes))
    try:
        return Scenario(name=name or Path(net_path).name.removesuffix(".net.xml"), network=sumo_net.network,
                        intersections=intersections, plans=plans, active_plans=active, demand=demand,
                        route_groups=groups, begin_s=begin, end_s=end,
                        description=f"imported from SUMO: {Path(net_path).name}")
    except ModelError as exc:
        raise SumoFormatError(str(exc)) from None


def import_sumocfg(config_path: str | Path, *, name: str | None = None,
                   route_groups: Mapping[str, Sequence[str]] | None = None) -> Scenario:
    """Import what a SUMO configuration names (net, route and additional files) over its
    ``begin``/``end`` window; the scenario is named after the config file."""
    cfg = read_sumocfg(config_path)
    return import_sumo(cfg.net, list(cfg.routes), list(cfg.additional),
                       name=name or Path(config_path).name.split(".")[0], begin_s=cfg.begin_s, end_s=cfg.end_s,
                       route_groups=route_groups)


def _match_groups(patterns: Mapping[str, Sequence[str]], routes: list[str]) -> dict[str, tuple[str, ...]]:
    groups = {}
    for name, pats in patterns.items():
        members = tuple(r for r in routes if any(fnmatch.fnmatchcase(r, p) for p in pats))
        if not members:
            raise SumoFormatError(f"route group {name!r}: no route matches {', '.join(pats)}")
        groups[name] = members
    return groups
