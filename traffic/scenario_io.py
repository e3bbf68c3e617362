"""Read and write scenario and plan files (JSON, validated against ``traffic.schema``)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from traffic import schema as S
from traffic.compatibility import opposing_approaches
from traffic.demand import Arrivals, Demand, Flow, FlowSlice, Route, Trip
from traffic.errors import ModelError, ScenarioError
from traffic.intersection import Crossing, Intersection, LaneGroup, Movement, Turn, build_lane_groups
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.pedestrians import crossings_from_geometry
from traffic.scenario import Scenario
from traffic.signal_plan import Phase, SignalPlan
from traffic.vehicles import VehicleType

DATA_ENV = "GREENWAVE_DATA"


def data_dir() -> Path:
    """The project's ``data/`` folder (override with ``$GREENWAVE_DATA``)."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def builtin_scenarios() -> list[str]:
    folder = data_dir() / "scenarios"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    """A path as given if it exists, else the built-in scenario of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    builtin = data_dir() / "scenarios" / f"{name_or_path}.json"
    if builtin.exists():
        return builtin
    known = ", ".join(builtin_scenarios()) or "none found"
    raise ScenarioError(f"no scenario file {str(name_or_path)!r} and no built-in scenario of that name "
                        f"(built-in: {known})")


def _read_model(path: Path, model: type[S._Strict], what: str) -> S._Strict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """One line naming the path of each bad field and what was expected."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        parts.append(f"{loc or '(top level)'}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario file or a built-in scenario by name; raises ``ScenarioError`` if malformed."""
    path = resolve_scenario_path(name_or_path)
    model = _read_model(path, S.ScenarioModel, "scenario")
    assert isinstance(model, S.ScenarioModel)
    try:
        return scenario_from_model(model)
    except ModelError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def save_scenario(scenario: Scenario, path: str | Path) -> None:
    _write(scenario_to_model(scenario), Path(path))


def load_plan_file(path: str | Path, scenario: Scenario) -> dict[str, SignalPlan]:
    """Plans of a ``PLAN.json`` (intersection id -> plan), checked against the scenario's intersections."""
    p = Path(path)
    model = _read_model(p, S.PlanFileModel, "plan file")
    assert isinstance(model, S.PlanFileModel)
    plans: dict[str, SignalPlan] = {}
    for i, pm in enumerate(model.plans):
        if pm.intersection is None:
            raise ScenarioError(f"{p}: plans[{i}].intersection: field required")
        if pm.intersection not in scenario.intersections:
            raise ScenarioError(f"{p}: plans[{i}].intersection: unknown intersection {pm.intersection!r}")
        if pm.intersection in plans:
            raise ScenarioError(f"{p}: plans[{i}]: a second plan for intersection {pm.intersection!r}")
        try:
            plans[pm.intersection] = plan_from_model(pm, pm.intersection)
        except ModelError as exc:
            raise ScenarioError(f"{p}: plans[{i}]: {exc}") from None
    return plans


def save_plan_file(plans: Mapping[str, SignalPlan], path: str | Path) -> None:
    model = S.PlanFileModel(plans=[plan_to_model(p) for p in plans.values()])
    _write(model, Path(path))


def _write(model: BaseModel, path: Path) -> None:
    from traffic.atomic_write import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, model.model_dump_json(indent=1, exclude_defaults=False) + "\n")


# --- model -> domain -------------------------------------------------------------------------

def plan_from_model(pm: S.PlanModel, intersection: str) -> SignalPlan:
    phases = tuple(Phase(name=ph.name, green_s=ph.green_s, yellow_s=ph.yellow_s,
                         all_red_s=ph.all_red_s, protected=frozenset(ph.protected),
                         permissive=frozenset(ph.permissive), carry_over=frozenset(ph.carry_over),
                         yellow_name=ph.yellow_name, all_red_name=ph.all_red_name)
                   for ph in pm.phases)
    return SignalPlan(intersection=intersection, name=pm.name, cycle_s=pm.cycle_s, offset_s=pm.offset_s,
                      phases=phases)


def network_from_model(nm: S.NetworkModel) -> Network:
    nodes = [Node(n.id, NodeKind(n.kind), n.x_m, n.y_m) for n in nm.nodes]
    links = [Link(id=lk.id, from_node=lk.from_node, to_node=lk.to_node, name=lk.name,
                  lanes=tuple(Lane(ln.index, ln.length_m, ln.speed_m_s, tuple(ln.movements), ln.width_m)
                              for ln in lk.lanes))
             for lk in nm.links]
    movements = [Movement(id=m.id, node=m.node, from_link=m.from_link, to_link=m.to_link, turn=Turn(m.turn),
                          from_lanes=tuple(m.from_lanes), to_lanes=tuple(m.to_lanes),
                          internal_length_m=m.internal_length_m, internal_speed_m_s=m.internal_speed_m_s,
                          lane_pairs=tuple((a, b) for a, b in m.lane_pairs))
                 for m in nm.movements]
    return Network.build(nodes, links, movements, yields=[(a, b) for a, b in nm.yields])


def make_intersection(network: Network, iid: str, nodes: tuple[str, ...], *,
                      conflicts: frozenset[frozenset[str]] = frozenset(),
                      yields: frozenset[tuple[str, str]] = frozenset(),
                      signal_links: tuple[str | None, ...] = (),
                      saturation_flow_veh_h: Mapping[str, float] | None = None,
                      yield_controlled: frozenset[str] = frozenset(),
                      approach_headings_deg: Mapping[str, float] | None = None,
                      crossings: tuple[Crossing, ...] | None = None) -> Intersection:
    """An intersection over ``nodes`` with the network's movements there and lane groups from lane use.

    ``crossings`` default: one pedestrian crossing per leg from the geometry (``traffic.pedestrians``).

    Opposing approaches come from the geometry (``traffic.compatibility.opposing_approaches``);
    ``approach_headings_deg`` overrides the node-to-node heading of an approach (e.g. a SUMO lane shape).
    """
    movements = network.movements_at(nodes)
    lane_use: dict[tuple[str, int], list[str]] = {}
    for m in movements:
        link = network.links[m.from_link]
        for lane in link.lanes:
            lane_use[(link.id, lane.index)] = [x for x in lane.movements if network.movements[x].node in nodes]
    groups = build_lane_groups(movements, lane_use)
    overrides = dict(saturation_flow_veh_h or {})
    unknown = set(overrides) - {g.id for g in groups}
    if unknown:
        raise ModelError(f"intersection {iid!r}: saturation_flow_veh_h names unknown lane groups {sorted(unknown)}")
    groups = tuple(LaneGroup(g.id, g.approach, g.lanes, g.movements, overrides.get(g.id)) for g in groups)
    return Intersection(id=iid, nodes=nodes, movements={m.id: m for m in movements}, lane_groups=groups,
                        conflicts=conflicts, yields=yields, signal_links=signal_links,
                        opposing_approaches=opposing_approaches(network, movements, approach_headings_deg),
                        yield_controlled=frozenset(yield_controlled),
                        crossings=crossings_from_geometry(network, nodes, movements)
                        if crossings is None else crossings)


def scenario_from_model(model: S.ScenarioModel) -> Scenario:
    network = network_from_model(model.network)
    intersections: dict[str, Intersection] = {}
    plans: dict[str, dict[str, SignalPlan]] = {}
    active: dict[str, str] = {}
    for im in model.intersections:
        if im.id in intersections:
            raise ModelError(f"duplicate intersection id {im.id!r}")
        intersections[im.id] = make_intersection(
            network, im.id, tuple(im.nodes),
            conflicts=frozenset(frozenset(p) for p in im.conflicts),
            yields=frozenset((a, b) for a, b in im.yields),
            signal_links=tuple(im.signal_links),
            saturation_flow_veh_h=im.saturation_flow_veh_h,
            yield_controlled=frozenset(im.yield_controlled),
            crossings=None if im.crossings is None else tuple(Crossing(c.id, tuple(c.links), c.length_m)
                                                              for c in im.crossings))
        programs: dict[str, SignalPlan] = {}
        for pm in im.plans:
            if pm.intersection not in (None, im.id):
                raise ModelError(f"intersection {im.id!r}: plan {pm.name!r} says it is for {pm.intersection!r}")
            if pm.name in programs:
                raise ModelError(f"intersection {im.id!r}: two plans named {pm.name!r}")
            programs[pm.name] = plan_from_model(pm, im.id)
        plans[im.id] = programs
        active[im.id] = im.active_plan
    return Scenario(name=model.name, description=model.description, network=network,
                    intersections=intersections, plans=plans, active_plans=active,
                    demand=demand_from_model(model.demand),
                    route_groups={k: tuple(v) for k, v in model.route_groups.items()},
                    begin_s=model.begin_s, end_s=model.end_s)


def demand_from_model(dm: S.DemandModel) -> Demand:
    types = [VehicleType(**t.model_dump()) for t in dm.vehicle_types]
    routes = [Route(r.id, tuple(r.links)) for r in dm.routes]
    flows = [Flow(id=f.id, route=f.route, origin=f.origin, destination=f.destination,
                  vehicle_type=f.vehicle_type, arrivals=Arrivals(f.arrivals),
                  slices=tuple(FlowSlice(s.begin_s, s.end_s, s.flow_veh_h) for s in f.slices))
             for f in dm.flows]
    trips = [Trip(id=t.id, depart_s=t.depart_s, route=t.route, origin=t.origin, destination=t.destination,
                  vehicle_type=t.vehicle_type) for t in dm.trips]
    return Demand.build(types, routes, flows, trips)


# --- domain -> model -------------------------------------------------------------------------

def plan_to_model(plan: SignalPlan, with_intersection: bool = True) -> S.PlanModel:
    return S.PlanModel(
        intersection=plan.intersection if with_intersection else None, name=plan.name,
        cycle_s=plan.cycle_s, offset_s=plan.offset_s,
        phases=[S.PhaseModel(name=p.name, green_s=p.green_s, yellow_s=p.yellow_s, all_red_s=p.all_red_s,
                             protected=sorted(p.protected), permissive=sorted(p.permissive),
                             carry_over=sorted(p.carry_over), yellow_name=p.yellow_name,
                             all_red_name=p.all_red_name)
                for p in plan.phases])


def scenario_to_model(sc: Scenario) -> S.ScenarioModel:
    net = sc.network
    network = S.NetworkModel(
        nodes=[S.NodeModel(id=n.id, kind=n.kind.value, x_m=n.x_m, y_m=n.y_m) for n in net.nodes.values()],
        links=[S.LinkModel(id=lk.id, from_node=lk.from_node, to_node=lk.to_node, name=lk.name,
                           lanes=[S.LaneModel(index=ln.index, length_m=ln.length_m, speed_m_s=ln.speed_m_s,
                                              movements=list(ln.movements), width_m=ln.width_m) for ln in lk.lanes])
               for lk in net.links.values()],
        movements=[S.MovementModel(id=m.id, node=m.node, from_link=m.from_link, to_link=m.to_link,
                                   turn=m.turn.value, from_lanes=list(m.from_lanes), to_lanes=list(m.to_lanes),
                                   internal_length_m=m.internal_length_m, internal_speed_m_s=m.internal_speed_m_s,
                                   lane_pairs=[(a, b) for a, b in m.lane_pairs])
                   for m in net.movements.values()],
        yields=sorted(net.yields))
    intersections = [
        S.IntersectionModel(
            id=i.id, nodes=list(i.nodes), conflicts=sorted((a, b) for a, b in map(sorted, i.conflicts)),
            yields=sorted(i.yields), signal_links=list(i.signal_links), yield_controlled=sorted(i.yield_controlled),
            saturation_flow_veh_h={g.id: g.saturation_flow_veh_h for g in i.lane_groups
                                   if g.saturation_flow_veh_h is not None},
            active_plan=sc.active_plans[i.id],
            plans=[plan_to_model(p, with_intersection=False) for p in sc.plans[i.id].values()],
            crossings=_crossings_model(sc, i))
        for i in sc.intersections.values()]
    d = sc.demand
    demand = S.DemandModel(
        vehicle_types=[S.VehicleTypeModel(**_fields(t)) for t in d.vehicle_types.values()],
        routes=[S.RouteModel(id=r.id, links=list(r.links)) for r in d.routes.values()],
        flows=[S.FlowModel(id=f.id, route=f.route, origin=f.origin, destination=f.destination,
                           vehicle_type=f.vehicle_type, arrivals=f.arrivals.value,
                           slices=[S.FlowSliceModel(begin_s=s.begin_s, end_s=s.end_s, flow_veh_h=s.flow_veh_h)
                                   for s in f.slices]) for f in d.flows],
        trips=[S.TripModel(id=t.id, depart_s=t.depart_s, route=t.route, origin=t.origin,
                           destination=t.destination, vehicle_type=t.vehicle_type) for t in d.trips])
    return S.ScenarioModel(name=sc.name, description=sc.description, begin_s=sc.begin_s, end_s=sc.end_s,
                           network=network, intersections=intersections, demand=demand,
                           route_groups={k: list(v) for k, v in sc.route_groups.items()})


def _crossings_model(sc: Scenario, inter: Intersection) -> list[S.CrossingModel] | None:
    """``None`` where the crossings are the geometry's own (the file stays short), else the list."""
    if inter.crossings == crossings_from_geometry(sc.network, inter.nodes, inter.movements.values()):
        return None
    return [S.CrossingModel(id=c.id, links=list(c.links), length_m=c.length_m) for c in inter.crossings]


def _fields(obj: VehicleType) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
