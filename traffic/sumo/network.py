"""Read a SUMO ``.net.xml`` (via sumolib) into Greenwave's network, intersections and programs."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traffic.errors import ModelError, SumoFormatError
from traffic.intersection import Crossing, Intersection, Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.pedestrians import crossings_from_geometry
from traffic.scenario_io import make_intersection
from traffic.sumo.tls import SumoPhase, SumoProgram

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class SumoNet:
    """What a ``.net.xml`` holds, in Greenwave's terms."""

    network: Network
    intersections: dict[str, Intersection]
    programs: dict[str, list[SumoProgram]]


def read_sumo_net(path: str | Path) -> SumoNet:
    """Import nodes, links with their lanes, movements (with internal-lane lengths), and every
    traffic light with its conflict matrix and programs. Raises ``SumoFormatError``."""
    import sumolib  # imported here: only SUMO import needs it

    p = Path(path)
    if not p.is_file():
        raise SumoFormatError(f"SUMO net {str(p)!r} does not exist")
    try:
        net = sumolib.net.readNet(str(p), withInternal=True, withPrograms=True)
    except Exception as exc:  # sumolib raises whatever its XML parser raises
        raise SumoFormatError(f"cannot read SUMO net {str(p)!r}: {type(exc).__name__}: {exc}".splitlines()[0]) \
            from None
    if not net.getEdges(withInternal=False):
        raise SumoFormatError(f"SUMO net {str(p)!r} has no edges")
    try:
        return _convert(net)
    except ModelError as exc:
        raise SumoFormatError(f"SUMO net {str(p)!r}: {exc}") from None


def _convert(net: Any) -> SumoNet:
    edges = [e for e in net.getEdges(withInternal=False) if e.getFunction() in ("", "normal")]
    edge_ids = {e.getID() for e in edges}
    conns = _connections(edges, edge_ids)
    tls_of = {}  # (from, to, from_lane) -> (tls id, link index)
    for c in conns:
        if c.getTLSID():
            tls_of[id(c)] = (c.getTLSID(), c.getTLLinkIndex())
    programs = _programs(net)
    signature = {id(c): _signature(c, programs) for c in conns}
    groups: dict[tuple[str, str, tuple[str, ...]], list[Any]] = defaultdict(list)
    for c in conns:
        groups[(c.getFrom().getID(), c.getTo().getID(), signature[id(c)])].append(c)
    pair_count: dict[tuple[str, str], int] = defaultdict(int)
    for f, t, _ in groups:
        pair_count[(f, t)] += 1
    movements: list[Movement] = []
    movement_of: dict[int, str] = {}
    for (f, t, _), cs in groups.items():
        lanes = sorted({c.getFromLane().getIndex() for c in cs})
        mid = f"{f}>{t}" if pair_count[(f, t)] == 1 else f"{f}>{t}#{''.join(map(str, lanes))}"
        movements.append(_movement(net, mid, cs, lanes))
        for c in cs:
            movement_of[id(c)] = mid
    lane_use: dict[tuple[str, int], list[str]] = defaultdict(list)
    for c in conns:
        key = (c.getFrom().getID(), c.getFromLane().getIndex())
        if movement_of[id(c)] not in lane_use[key]:
            lane_use[key].append(movement_of[id(c)])
    nodes = [_node(n, programs) for n in net.getNodes()]
    links = [Link(id=e.getID(), from_node=e.getFromNode().getID(), to_node=e.getToNode().getID(),
                  name=e.getName() or "",
                  lanes=tuple(Lane(ln.getIndex(), ln.getLength(), ln.getSpeed(),
                                   tuple(lane_use.get((e.getID(), ln.getIndex()), ())), float(ln.getWidth()))
                              for ln in e.getLanes()))
             for e in edges]
    yields: set[tuple[str, str]] = set()
    approximated: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        kind = net.getNode(node.id).getType()
        if node.kind is NodeKind.SIGNAL:
            if kind in APPROXIMATED_JUNCTIONS:
                approximated[kind].append(node.id)
            continue
        if node.kind is NodeKind.BOUNDARY:
            continue
        if kind not in MODELLED_JUNCTIONS:
            approximated[kind].append(node.id)
        node_yields = _right_of_way(net, node.id, conns, movement_of)[1]
        if node.kind is NodeKind.PRIORITY:  # give way by gap acceptance: a pair giving way both ways cannot
            node_yields = {(a, b) for a, b in node_yields if (b, a) not in node_yields}  # (unknown types)
        yields |= node_yields
    for kind, ids in sorted(approximated.items()):
        how = APPROXIMATED_JUNCTIONS.get(kind, "approximated by the net's right of way (its foes/response bits)")
        logger.warning("greenwave: warning: %d SUMO junction%s of type %r (%s%s): %s", len(ids),
                       "s" if len(ids) > 1 else "", kind, ", ".join(repr(i) for i in ids[:3]),
                       ", ..." if len(ids) > 3 else "", how)
    network = Network.build(nodes, links, movements, yields)
    signal_ids = {n.id for n in nodes if n.kind is NodeKind.SIGNAL}
    intersections = {tls_id: _intersection(net, network, tls_id, conns, movement_of)
                     for tls_id in sorted({v[0] for v in tls_of.values()})
                     if tls_id in programs and _tls_nodes(conns, tls_id) <= signal_ids}
    return SumoNet(network, intersections, {k: v for k, v in programs.items() if k in intersections})


MODELLED_JUNCTIONS = {
    "priority": "minor roads give way to the major road (the net's foes/response)",
    "right_before_left": "each approach gives way to the one on its right (the net's foes/response)",
    "left_before_right": "each approach gives way to the one on its left (the net's foes/response)",
    "unregulated": "no rules: every movement goes",
    "zipper": "the merging streams take turns (first come, first served, then alternately)",
    "allway_stop": "every vehicle stops at the line; conflicting approaches are served first come, first served",
    "rail_crossing": "road traffic crosses freely, except from shortly before a train reaches the crossing "
                     "until shortly after it passed",
    "traffic_light": "the signal's program",
    "dead_end": "the network's boundary",
    "internal": "part of a junction",
}
"""SUMO junction types Greenwave's simulator models, and how."""

APPROXIMATED_JUNCTIONS = {
    "priority_stop": "approximated as 'priority': minor roads give way but do not stop first",
    "rail_signal": "not a road signal: approximated by the net's right of way (trains are not held by it)",
    "traffic_light_unregulated": "the signal runs its program, and green movements never give way to each other "
                                 "(as in SUMO, which writes no conflicts for it: plan validation cannot check them)",
    "traffic_light_right_on_red": "approximated as 'traffic_light': right turns on red (state 's') wait for "
                                  "their green",
}
"""SUMO junction types Greenwave approximates (one warning per type on import); any other type is
approximated by the net's right of way."""

SUPPORTED_JUNCTIONS = {**MODELLED_JUNCTIONS, **APPROXIMATED_JUNCTIONS}
"""Every SUMO junction type the importer names (others are approximated by their foes/response bits too)."""


def _tls_nodes(conns: list[Any], tls_id: str) -> set[str]:
    return {c.getFrom().getToNode().getID() for c in conns if c.getTLSID() == tls_id}


def _connections(edges: list[Any], edge_ids: set[str]) -> list[Any]:
    out = []
    for e in edges:
        for targets in e.getOutgoing().values():
            for c in targets:
                if c.getTo().getID() in edge_ids:
                    out.append(c)
    return out


def _programs(net: Any) -> dict[str, list[SumoProgram]]:
    out: dict[str, list[SumoProgram]] = {}
    for tls in net.getTrafficLights():
        progs = []
        for pid, prog in tls.getPrograms().items():
            # right on red ('s', traffic_light_right_on_red) is approximated as red: APPROXIMATED_JUNCTIONS
            phases = tuple(SumoPhase(float(ph.duration), ph.state.replace("s", "r"), ph.name or "")
                           for ph in prog.getPhases())
            progs.append(SumoProgram(tls.getID(), pid, float(prog._offset), phases, prog._type))
        out[tls.getID()] = progs
    return out


def _signature(c: Any, programs: dict[str, list[SumoProgram]]) -> tuple[str, ...]:
    """The connection's signal characters over every program phase: lanes of one from->to pair
    that differ here must be separate movements."""
    tls = c.getTLSID()
    if not tls:
        return ()
    idx = c.getTLLinkIndex()
    return tuple(ph.state[idx] if idx < len(ph.state) else "?" for prog in programs.get(tls, [])
                 for ph in prog.phases)


_TURN_TAKING = {"zipper": NodeKind.ZIPPER, "allway_stop": NodeKind.ALLWAY_STOP,
                "rail_crossing": NodeKind.RAIL_CROSSING}


def _node(n: Any, programs: dict[str, list[SumoProgram]]) -> Node:
    kind = n.getType()
    if kind.startswith("traffic_light") and any(c.getTLSID() in programs for c in n.getConnections()):
        k = NodeKind.SIGNAL
    elif kind == "dead_end" or not n.getIncoming() or not n.getOutgoing():
        k = NodeKind.BOUNDARY
    else:
        k = _TURN_TAKING.get(kind, NodeKind.PRIORITY)
    x, y = n.getCoord()[:2]
    return Node(n.getID(), k, float(x), float(y))


def _movement(net: Any, mid: str, cs: list[Any], lanes: list[int]) -> Movement:
    lengths, times = [], []
    for c in cs:
        length, time = _internal_path(net, c)
        lengths.append(length)
        times.append(time)
    length = sum(lengths) / len(lengths)
    time = sum(times) / len(times)
    first = cs[0]
    to_lanes = sorted({c.getToLane().getIndex() for c in cs})
    pairs = {(c.getFromLane().getIndex(), c.getToLane().getIndex()) for c in cs}
    if len(pairs) == len(lanes) * len(to_lanes):
        pairs = set()  # every lane reaches every lane: nothing to say
    return Movement(id=mid, node=first.getFrom().getToNode().getID(), from_link=first.getFrom().getID(),
                    to_link=first.getTo().getID(), turn=Turn.from_sumo(first.getDirection()),
                    from_lanes=tuple(lanes), to_lanes=tuple(to_lanes),
                    internal_length_m=round(length, 3),
                    internal_speed_m_s=round(length / time, 3) if time > 0 else first.getTo().getSpeed(),
                    lane_pairs=tuple(sorted(pairs)))


def _internal_path(net: Any, c: Any) -> tuple[float, float]:
    """Length and free-flow time of the chain of internal lanes a connection drives through."""
    length = time = 0.0
    via = c.getViaLaneID()
    seen = set()
    while via and via not in seen:
        seen.add(via)
        lane = net.getLane(via)
        length += lane.getLength()
        time += lane.getLength() / lane.getSpeed()
        nxt = [o for o in lane.getOutgoing() if o.getTo().getID() == c.getTo().getID()]
        via = nxt[0].getViaLaneID() if nxt else ""
    return length, time


def _intersection(net: Any, network: Network, tls_id: str, conns: list[Any],
                  movement_of: dict[int, str]) -> Intersection:
    mine = [c for c in conns if c.getTLSID() == tls_id]
    size = max(c.getTLLinkIndex() for c in mine) + 1
    signal_links: list[str | None] = [None] * size
    for c in mine:
        if signal_links[c.getTLLinkIndex()] is None:
            signal_links[c.getTLLinkIndex()] = movement_of[id(c)]
    nodes = tuple(sorted({c.getFrom().getToNode().getID() for c in mine}))
    conflicts: set[frozenset[str]] = set()
    yields: set[tuple[str, str]] = set()
    for node_id in nodes:
        node_conflicts, node_yields = _right_of_way(net, node_id, conns, movement_of)
        conflicts |= node_conflicts
        yields |= node_yields
    headings = {e: _heading_at_stop_line(net.getEdge(e)) for e in {c.getFrom().getID() for c in mine}}
    return make_intersection(network, tls_id, nodes, conflicts=frozenset(conflicts), yields=frozenset(yields),
                             signal_links=tuple(signal_links),
                             approach_headings_deg={e: h for e, h in headings.items() if h is not None},
                             crossings=_crossings(net, network, nodes))


def _crossings(net: Any, network: Network, nodes: tuple[str, ...]) -> tuple[Crossing, ...]:
    """The pedestrian crossings of a traffic light.

    A net that models pedestrians (it has ``<crossing>`` edges or sidewalks, lanes only pedestrians
    may use) says where they cross: exactly its ``<crossing>`` edges at the light's nodes (their
    lane's length, over the edges they cross), none where it has none. A net without pedestrians
    gets the agency default: one crossing per leg from the geometry (``traffic.pedestrians``).
    """
    own = set(nodes)
    found = []
    for e in net.getEdges(withInternal=True):
        if e.getFunction() != "crossing" or e.getFromNode().getID() not in own:
            continue
        crossed = tuple(sorted(c.getID() for c in e.getCrossingEdges() if c.getID() in network.links))
        if crossed and e.getLanes():
            found.append(Crossing(e.getID(), crossed, round(float(e.getLanes()[0].getLength()), 3)))
    if found or _models_pedestrians(net):
        return tuple(sorted(found, key=lambda c: c.id))
    return crossings_from_geometry(network, nodes, network.movements_at(nodes))


def _models_pedestrians(net: Any) -> bool:
    return any(e.getFunction() == "crossing" for e in net.getEdges(withInternal=True)) or any(
        ln.getPermissions() and set(ln.getPermissions()) <= {"pedestrian"}
        for e in net.getEdges(withInternal=False) for ln in e.getLanes())


HEADING_STRETCH_M = 20.0
"""How far back from the stop line an approach's heading is measured (its lane shape's last stretch)."""


def _heading_at_stop_line(edge: Any) -> float | None:
    """Direction of travel (degrees from +x, counter-clockwise) over the last ``HEADING_STRETCH_M`` of the
    edge's rightmost lane, where it reaches the junction; ``None`` for a degenerate shape."""
    shape = [(float(x), float(y)) for x, y, *_ in edge.getLane(0).getShape()]
    if len(shape) < 2:
        return None
    x1, y1 = shape[-1]
    x0, y0 = shape[-2]
    left = HEADING_STRETCH_M
    for (ax, ay), (bx, by) in zip(reversed(shape[:-1]), reversed(shape[1:]), strict=True):
        seg = math.hypot(bx - ax, by - ay)
        if seg >= left:
            f = left / seg
            x0, y0 = bx - (bx - ax) * f, by - (by - ay) * f
            break
        x0, y0 = ax, ay
        left -= seg
    if math.hypot(x1 - x0, y1 - y0) < 1e-6:
        return None
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _right_of_way(net: Any, node_id: str, conns: list[Any], movement_of: dict[int, str]
                  ) -> tuple[set[frozenset[str]], set[tuple[str, str]]]:
    """Conflicting movement pairs and ordered yields ``(a gives way to b)`` at one junction, from its
    ``foes`` and ``response`` bits (``forbids(b, a)``: b's link prohibits a's)."""
    node = net.getNode(node_id)
    at_node = [c for c in conns if c.getFrom().getToNode().getID() == node_id]
    index = {id(c): node.getLinkIndex(c) for c in at_node}
    conflicts: set[frozenset[str]] = set()
    yields: set[tuple[str, str]] = set()
    for a in at_node:
        for b in at_node:
            ma, mb = movement_of[id(a)], movement_of[id(b)]
            ia, ib = index[id(a)], index[id(b)]
            if ma == mb or ia < 0 or ib < 0 or ia not in node._foes or ib not in node._foes:
                continue
            if node.areFoes(ia, ib):
                conflicts.add(frozenset((ma, mb)))
            if node.forbids(b, a):
                yields.add((ma, mb))
    return conflicts, yields
