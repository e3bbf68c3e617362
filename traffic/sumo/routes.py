"""Read SUMO route files (``.rou.xml``): vTypes, routes, flows, vehicles and trips."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from traffic.demand import Arrivals, Flow, FlowSlice, Route, Trip
from traffic.errors import ModelError, SumoFormatError
from traffic.vehicles import DEFAULT_PCU, VehicleType, class_from_sumo

SUMO_DEFAULT_TYPE = "DEFAULT_VEHTYPE"
DEFAULT_END_S = 86400.0  # SUMO's default end of a flow without one
_EXP = re.compile(r"^\s*exp\(\s*([0-9.eE+-]+)\s*\)\s*$")
_NORMC = re.compile(r"^\s*norm[c]?\(([^)]*)\)\s*$")


@dataclass
class SumoDemand:
    vehicle_types: dict[str, VehicleType] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    named_routes: list[str] = field(default_factory=list)


def read_sumo_routes(paths: list[str | Path], motorcycle_pcu: float = DEFAULT_PCU["motorcycle"]) -> SumoDemand:
    demand = SumoDemand()
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise SumoFormatError(f"cannot read SUMO routes {str(path)!r}: {exc}") from None
        try:
            _read(root, demand, motorcycle_pcu)
        except (ModelError, ValueError) as exc:
            raise SumoFormatError(f"{path}: {exc}") from None
    return demand


def _read(root: ET.Element, d: SumoDemand, motorcycle_pcu: float) -> None:
    for el in root:
        tag = el.tag
        if tag == "vType":
            t = _vtype(el, motorcycle_pcu)
            d.vehicle_types[t.id] = t
        elif tag == "route":
            _add_route(d, el.get("id", ""), el)
            d.named_routes.append(el.get("id", ""))
        elif tag == "flow":
            d.flows.append(_flow(el, d))
        elif tag in ("vehicle", "trip"):
            d.trips.append(_trip(el, d))
        elif tag in ("routeDistribution", "vTypeDistribution", "person", "personFlow", "container"):
            raise SumoFormatError(f"<{tag}> is not supported (line {getattr(el, 'sourceline', '?')})")


def _add_route(d: SumoDemand, rid: str, el: ET.Element) -> str:
    if not rid:
        raise ModelError("<route> without id")
    if rid in d.routes:
        raise ModelError(f"duplicate route id {rid!r}")
    edges = el.get("edges", "").split()
    d.routes[rid] = Route(rid, tuple(edges))
    return rid


def _type_of(el: ET.Element, d: SumoDemand) -> str:
    tid = el.get("type", SUMO_DEFAULT_TYPE)
    if tid not in d.vehicle_types:
        if tid != SUMO_DEFAULT_TYPE:
            raise ModelError(f"{el.tag} {el.get('id')!r}: unknown vType {tid!r}")
        d.vehicle_types[tid] = VehicleType(id=tid)
    return tid


def _route_of(el: ET.Element, d: SumoDemand) -> tuple[str | None, str | None, str | None]:
    nested = el.find("route")
    if nested is not None:
        return _add_route(d, f"{el.get('id')}!route", nested), None, None
    if el.get("route"):
        rid = el.get("route", "")
        if rid not in d.routes:
            raise ModelError(f"{el.tag} {el.get('id')!r}: unknown route {rid!r}")
        return rid, None, None
    if el.get("from") and el.get("to"):
        if el.get("via"):
            raise ModelError(f"{el.tag} {el.get('id')!r}: 'via' is not supported")
        return None, el.get("from"), el.get("to")
    raise ModelError(f"{el.tag} {el.get('id')!r}: needs a route or from/to edges")


def _flow(el: ET.Element, d: SumoDemand) -> Flow:
    fid = el.get("id", "")
    begin = float(el.get("begin", "0"))
    end = float(el.get("end", str(DEFAULT_END_S)))
    rate_veh_h, arrivals = _rate(el, begin, end)
    route, origin, dest = _route_of(el, d)
    return Flow(id=fid, route=route, origin=origin, destination=dest, vehicle_type=_type_of(el, d),
                arrivals=arrivals, slices=(FlowSlice(begin, end, rate_veh_h),))


def _rate(el: ET.Element, begin: float, end: float) -> tuple[float, Arrivals]:
    fid = el.get("id")
    if "period" in el.attrib:
        m = _EXP.match(el.get("period", ""))
        if m:
            return float(m.group(1)) * 3600.0, Arrivals.POISSON
        return 3600.0 / float(el.get("period", "")), Arrivals.UNIFORM
    if "vehsPerHour" in el.attrib:
        return float(el.get("vehsPerHour", "")), Arrivals.UNIFORM
    if "probability" in el.attrib:
        return float(el.get("probability", "")) * 3600.0, Arrivals.BERNOULLI
    if "number" in el.attrib:
        return float(el.get("number", "")) * 3600.0 / (end - begin), Arrivals.UNIFORM
    raise ModelError(f"flow {fid!r}: needs period, vehsPerHour, probability or number")


def _trip(el: ET.Element, d: SumoDemand) -> Trip:
    depart = el.get("depart", "0")
    try:
        depart_s = float(depart)
    except ValueError:
        raise ModelError(f"{el.tag} {el.get('id')!r}: depart={depart!r} is not supported (seconds only)") from None
    route, origin, dest = _route_of(el, d)
    return Trip(id=el.get("id", ""), depart_s=depart_s, route=route, origin=origin, destination=dest,
                vehicle_type=_type_of(el, d))


def _vtype(el: ET.Element, motorcycle_pcu: float) -> VehicleType:
    cls = class_from_sumo(el.get("vClass", "passenger"))
    pcu = motorcycle_pcu if cls == "motorcycle" else DEFAULT_PCU[cls]
    factor, dev = _speed_factor(el)
    defaults = VehicleType(id="x")
    if cls == "bus":
        defaults = VehicleType(id="x", vehicle_class="bus", pcu=pcu, length_m=12.0, accel_m_s2=1.2, decel_m_s2=4.0,
                               max_speed_m_s=27.78, speed_dev=0.05)
    elif cls == "motorcycle":  # SUMO 1.28's vClass motorcycle defaults
        defaults = VehicleType(id="x", vehicle_class="motorcycle", pcu=pcu, length_m=2.2, accel_m_s2=6.0,
                               decel_m_s2=10.0)

    def num(attr: str, default: float) -> float:
        return float(el.get(attr, default))

    return VehicleType(id=el.get("id", ""), vehicle_class=cls, pcu=pcu,
                       length_m=num("length", defaults.length_m), min_gap_m=num("minGap", defaults.min_gap_m),
                       max_speed_m_s=num("maxSpeed", defaults.max_speed_m_s),
                       accel_m_s2=num("accel", defaults.accel_m_s2), decel_m_s2=num("decel", defaults.decel_m_s2),
                       sigma=num("sigma", defaults.sigma), tau_s=num("tau", defaults.tau_s),
                       speed_factor=factor, speed_dev=dev if dev is not None else defaults.speed_dev,
                       width_m=num("width", defaults.width_m), min_gap_lat_m=num("minGapLat", defaults.min_gap_lat_m))


def _speed_factor(el: ET.Element) -> tuple[float, float | None]:
    raw = el.get("speedFactor")
    raw_dev = el.get("speedDev")
    dev = float(raw_dev) if raw_dev is not None else None
    if raw is None:
        return 1.0, dev
    m = _NORMC.match(raw)
    if m:
        parts = [float(x) for x in m.group(1).split(",")]
        return parts[0], parts[1] if len(parts) > 1 else dev
    return float(raw), dev
