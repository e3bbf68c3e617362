"""Drifted copies of a scenario's demand: what the counts look like a year after the plans were made.

Pure functions: each takes a :class:`Scenario` and returns a new one whose demand (flows and routes)
has changed; the network, intersections and plans are untouched, and so are single trips.

* :func:`grown`: overall growth (every flow times a factor, optionally only within a time window);
* :func:`turning_shift`: a share of one approach's movement (by default its through traffic) moves to
  another turn of the same approach (the approach total is kept);
* :func:`side_street_generator`: a new generator of traffic (a housing estate, a car park) entering
  from one link and leaving by every turn of its first junction, in the approach's turning shares;
* :func:`event_crowd`: the same as a burst over a time window (an event letting out);
* :func:`lane_closure`: a lane closed on one link for a time window. The simulator's links keep
  their lanes for the whole run, so the closure is modelled by its capacity equivalent: the flows
  that use the link are multiplied by ``lanes / (lanes - closed)`` over the window, which gives the
  link's lane groups the degree of saturation (volume / capacity) they would have with the lane
  closed. What differs from a real closure: the extra vehicles are counted at the stop line (a real
  closure shows as a standing queue, not as more departures) and, once past the closed link, they
  also load the signals downstream (a real closure meters the traffic it lets through).

Routes of traffic that turns somewhere new are the original route up to the turn, then straight on
(through movements) until the network's edge.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

from traffic.demand import Flow, FlowSlice, Route
from traffic.errors import ModelError
from traffic.intersection import Movement, Turn
from traffic.network import Network, NodeKind
from traffic.scenario import Scenario


def grown(scenario: Scenario, factor: float, window_s: tuple[float, float] | None = None) -> Scenario:
    """Every flow of ``scenario`` multiplied by ``factor`` (1.2: +20 %), over ``window_s`` only when given
    (``(begin_s, end_s)``; the flows keep their rates outside it)."""
    _check_factor(factor)
    if window_s is None:
        return replace(scenario, demand=scenario.demand.scaled(factor))
    begin, end = _check_window(window_s)
    flows = tuple(_scaled_in_window(f, factor, begin, end) for f in scenario.demand.flows)
    return replace(scenario, demand=replace(scenario.demand, flows=flows))


def turning_shift(scenario: Scenario, approach_link: str, share: float, to_turn: Turn | str = Turn.LEFT,
                  from_turn: Turn | str = Turn.THROUGH) -> Scenario:
    """``share`` (0..1) of the traffic that makes the ``from_turn`` movement from ``approach_link`` makes its
    ``to_turn`` movement instead (the approach total is unchanged).

    Every flow whose route takes the ``from_turn`` movement from ``approach_link`` is split: ``1 - share`` of
    it keeps its route, ``share`` of it (a new flow, same type, arrivals and time slices) turns and then
    drives straight on to the network's edge.

    Raises:
        ModelError: ``share`` outside [0, 1], an unknown link, or the approach has no such movements.
    """
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        raise ModelError(f"turning share (={share}) must be in [0, 1]")
    net = scenario.network
    net.link(approach_link)
    source = _movement(net, approach_link, Turn(from_turn))
    target = _movement(net, approach_link, Turn(to_turn))
    tail = _straight_on(net, target.to_link)
    routes = dict(scenario.demand.routes)
    flows: list[Flow] = []
    taken = {f.id for f in scenario.demand.flows} | {t.id for t in scenario.demand.trips}
    hit = False
    for flow in scenario.demand.flows:
        links = scenario.route_links(flow)
        at = _position(links, source.from_link, source.to_link)
        hit = hit or at is not None
        if at is None or share == 0.0:
            flows.append(flow)
            continue
        route = Route(_unique(f"{flow.id}~{Turn(to_turn).name.lower()}@{approach_link}", routes),
                      (*links[:at + 1], *tail))
        routes[route.id] = route
        moved = replace(flow.scaled(share), id=_unique(route.id, taken), route=route.id, origin=None,
                        destination=None)
        taken.add(moved.id)
        if share < 1.0:
            flows.append(flow.scaled(1.0 - share))
        flows.append(moved)
    if not hit:
        raise ModelError(f"no flow makes the {Turn(from_turn).name.lower()} movement from link {approach_link!r}")
    return replace(scenario, demand=replace(scenario.demand, routes=routes, flows=tuple(flows)))


def side_street_generator(scenario: Scenario, origin_link: str, flow_veh_h: float,
                          window_s: tuple[float, float] | None = None,
                          shares: Mapping[Turn | str, float] | None = None, name: str = "generator",
                          vehicle_type: str | None = None) -> Scenario:
    """New traffic of ``flow_veh_h`` entering the network on ``origin_link`` over ``window_s`` (default the
    scenario's window), split over the turns of its first junction by ``shares`` (turn -> share; default the
    turning shares the approach already has, equal shares where it has none), each turn then straight on to
    the network's edge. Poisson arrivals; ``vehicle_type`` default the scenario's first type.

    Raises:
        ModelError: a negative flow, an unknown link, a link with no movement at its end, bad shares.
    """
    if not (math.isfinite(flow_veh_h) and flow_veh_h >= 0):
        raise ModelError(f"generator flow (={flow_veh_h} veh/h) must be a finite number >= 0")
    net = scenario.network
    net.link(origin_link)
    begin, end = _check_window(window_s) if window_s is not None else (scenario.begin_s, scenario.end_s)
    out_of = [m for m in net.movements.values() if m.from_link == origin_link]
    if not out_of:
        raise ModelError(f"link {origin_link!r}: no movement leaves it, it generates nothing")
    by_turn: dict[Turn, Movement] = {}
    for m in sorted(out_of, key=lambda m: m.id):
        by_turn.setdefault(m.turn, m)
    weights = _turn_weights(scenario, origin_link, by_turn, shares)
    vtype = vehicle_type or next(iter(scenario.demand.vehicle_types))
    if vtype not in scenario.demand.vehicle_types:
        raise ModelError(f"unknown vehicle type {vtype!r}")
    routes = dict(scenario.demand.routes)
    taken = {f.id for f in scenario.demand.flows} | {t.id for t in scenario.demand.trips}
    flows = list(scenario.demand.flows)
    for turn, weight in weights.items():
        if weight <= 0 or flow_veh_h == 0:
            continue
        m = by_turn[turn]
        route = Route(_unique(f"{name}@{origin_link}~{turn.name.lower()}", routes),
                      (origin_link, *_straight_on(net, m.to_link)))
        routes[route.id] = route
        fid = _unique(route.id, taken)
        taken.add(fid)
        flows.append(Flow(fid, (FlowSlice(begin, end, flow_veh_h * weight),), route=route.id, vehicle_type=vtype))
    return replace(scenario, demand=replace(scenario.demand, routes=routes, flows=tuple(flows)))


def event_crowd(scenario: Scenario, origin_link: str, flow_veh_h: float, begin_s: float, end_s: float,
                shares: Mapping[Turn | str, float] | None = None) -> Scenario:
    """A burst of ``flow_veh_h`` from ``origin_link`` over ``[begin_s, end_s)`` (an event letting out onto a
    side street): :func:`side_street_generator` over that window."""
    return side_street_generator(scenario, origin_link, flow_veh_h, (begin_s, end_s), shares, name="event")


def lane_closure(scenario: Scenario, link: str, begin_s: float, end_s: float, lanes_closed: int = 1) -> Scenario:
    """``lanes_closed`` lanes of ``link`` closed over ``[begin_s, end_s)``, as its capacity equivalent: every
    flow whose route uses ``link`` multiplied by ``lanes / (lanes - lanes_closed)`` over the window (see the
    module docstring for what this does and does not reproduce).

    Raises:
        ModelError: an unknown link, closing all its lanes (or none), an empty window, no flow on the link.
    """
    lanes = scenario.network.link(link).num_lanes
    if not 1 <= lanes_closed < lanes:
        raise ModelError(f"link {link!r} has {lanes} lane(s): can close 1..{lanes - 1}, not {lanes_closed}")
    begin, end = _check_window((begin_s, end_s))
    factor = lanes / (lanes - lanes_closed)
    flows = []
    hit = False
    for flow in scenario.demand.flows:
        if link in scenario.route_links(flow):
            hit = True
            flows.append(_scaled_in_window(flow, factor, begin, end))
        else:
            flows.append(flow)
    if not hit:
        raise ModelError(f"no flow uses link {link!r}: closing a lane of it changes nothing")
    return replace(scenario, demand=replace(scenario.demand, flows=tuple(flows)))


def link_flow_veh_h(scenario: Scenario, from_link: str, to_link: str | None = None,
                    window_s: tuple[float, float] | None = None) -> float:
    """Mean flow (veh/h over ``window_s``, default the scenario's window) of the flows that drive ``from_link``
    (and then ``to_link``, when given): the scenario's demand of a link or of one movement."""
    begin, end = _check_window(window_s) if window_s is not None else (scenario.begin_s, scenario.end_s)
    total = 0.0
    for flow in scenario.demand.flows:
        links = scenario.route_links(flow)
        used = (from_link in links) if to_link is None else _position(links, from_link, to_link) is not None
        if used:
            total += _vehicles_in(flow, begin, end)
    return total * 3600.0 / (end - begin)


# --- helpers ------------------------------------------------------------------------------------------


def _check_factor(factor: float) -> None:
    if not (math.isfinite(factor) and factor >= 0):
        raise ModelError(f"demand factor (={factor}) must be a finite number >= 0")


def _check_window(window_s: tuple[float, float]) -> tuple[float, float]:
    begin, end = (float(x) for x in window_s)
    if not (math.isfinite(begin) and math.isfinite(end)) or end <= begin:
        raise ModelError(f"time window ({begin}, {end}): end must be after begin")
    return begin, end


def _scaled_in_window(flow: Flow, factor: float, begin: float, end: float) -> Flow:
    """``flow`` with its rate multiplied by ``factor`` over ``[begin, end)`` (slices split at the window's ends)."""
    _check_factor(factor)
    out: list[FlowSlice] = []
    for s in flow.slices:
        cuts = sorted({s.begin_s, s.end_s, *(t for t in (begin, end) if s.begin_s < t < s.end_s)})
        for a, b in itertools.pairwise(cuts):
            inside = a >= begin and b <= end
            out.append(FlowSlice(a, b, s.flow_veh_h * factor if inside else s.flow_veh_h))
    return replace(flow, slices=tuple(out))


def _vehicles_in(flow: Flow, begin: float, end: float) -> float:
    return sum(s.flow_veh_h * max(0.0, min(end, s.end_s) - max(begin, s.begin_s)) / 3600.0 for s in flow.slices)


def _position(links: tuple[str, ...], a: str, b: str) -> int | None:
    """Index of ``a`` in ``links`` where ``b`` follows it (None: the route does not make that movement)."""
    for i, (x, y) in enumerate(itertools.pairwise(links)):
        if x == a and y == b:
            return i
    return None


def _movement(net: Network, from_link: str, turn: Turn) -> Movement:
    found = sorted((m for m in net.movements.values() if m.from_link == from_link and m.turn is turn),
                   key=lambda m: m.id)
    if not found:
        raise ModelError(f"link {from_link!r}: no {turn.name.lower()} movement")
    return found[0]


def _straight_on(net: Network, link: str) -> tuple[str, ...]:
    """``link`` and the links after it, following through movements until a link ends at the network's edge."""
    path = [link]
    while net.nodes[net.links[path[-1]].to_node].kind is not NodeKind.BOUNDARY:
        ahead = [m for m in net.movements.values() if m.from_link == path[-1] and m.turn is Turn.THROUGH]
        if not ahead:
            raise ModelError(f"link {path[-1]!r}: no through movement to carry new traffic to the network's edge")
        nxt = sorted(ahead, key=lambda m: m.id)[0].to_link
        if nxt in path:
            raise ModelError(f"links from {link!r} straight on loop back to {nxt!r}")
        path.append(nxt)
    return tuple(path)


def _turn_weights(scenario: Scenario, link: str, by_turn: Mapping[Turn, Movement],
                  shares: Mapping[Turn | str, float] | None) -> dict[Turn, float]:
    if shares is not None:
        given = {Turn(t): float(w) for t, w in shares.items()}
        unknown = sorted(t.name.lower() for t in given if t not in by_turn)
        if unknown:
            raise ModelError(f"link {link!r}: no {', '.join(unknown)} movement to give a share to")
        if any(not (math.isfinite(w) and w >= 0) for w in given.values()) or not sum(given.values()) > 0:
            raise ModelError(f"turning shares {dict(shares)} must be >= 0 with a positive sum")
    else:
        given = {t: link_flow_veh_h(scenario, link, m.to_link) for t, m in by_turn.items()}
        if not sum(given.values()) > 0:
            given = dict.fromkeys(by_turn, 1.0)
    total = sum(given.values())
    return {t: w / total for t, w in given.items()}


def _unique(base: str, taken: Iterable[str]) -> str:
    used = set(taken)
    if base not in used:
        return base
    return next(f"{base}#{k}" for k in itertools.count(2) if f"{base}#{k}" not in used)
