"""Road network: nodes and directed links on a networkx graph.

Lengths are what vehicles drive: a link's ``length_m`` runs from its upstream junction's exit to
its stop line; the distance driven inside a junction belongs to the movement
(``Movement.internal_length_m``), as in SUMO's internal lanes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from traffic.errors import ModelError
from traffic.frozen import FrozenMap
from traffic.intersection import Movement

if TYPE_CHECKING:  # networkx is imported where a graph is built: the simulator needs none
    import networkx as nx

JAM_SPACING_M = 7.5
"""Road length one stopped vehicle occupies (5 m car + 2.5 m gap), as in SUMO's defaults."""

DEFAULT_LANE_WIDTH_M = 3.2
"""Lane width when a network does not say (SUMO's default ``width`` of a ``<lane>``)."""


class NodeKind(StrEnum):
    """What happens at a node.

    ``PRIORITY``: movements give way by ``Network.yields`` (gap acceptance). ``ZIPPER`` and
    ``ALLWAY_STOP``: the conflicting movements (``Network.yields``, both ways) take turns: at a zipper
    the merging streams alternate, at an all-way stop every vehicle stops at the line and the
    approaches are served first come, first served. ``RAIL_CROSSING``: the road movements yield to
    the rail movements (``Network.yields``), and the crossing closes while a train approaches and passes.
    """

    SIGNAL = "signal"
    PRIORITY = "priority"
    ZIPPER = "zipper"
    ALLWAY_STOP = "allway_stop"
    RAIL_CROSSING = "rail_crossing"
    BOUNDARY = "boundary"


@dataclass(frozen=True, slots=True)
class Node:
    """A junction or a network boundary point; ``x_m``/``y_m`` are plane coordinates."""

    id: str
    kind: NodeKind
    x_m: float = 0.0
    y_m: float = 0.0

    def __post_init__(self) -> None:
        if not self.id:
            raise ModelError("node id must not be empty")
        object.__setattr__(self, "kind", NodeKind(self.kind))


@dataclass(frozen=True, slots=True)
class Lane:
    """One lane of a link; ``movements`` are the ids of the movements it serves at the stop line.

    ``width_m`` (SUMO's lane ``width``, default 3.2 m) gives the length of pedestrian crossings over
    the link (``traffic.pedestrians``).
    """

    index: int
    length_m: float
    speed_m_s: float
    movements: tuple[str, ...] = ()
    width_m: float = DEFAULT_LANE_WIDTH_M

    def __post_init__(self) -> None:
        object.__setattr__(self, "movements", tuple(self.movements))
        if self.index < 0:
            raise ModelError(f"lane index (={self.index}) must be >= 0")
        if self.length_m <= 0:
            raise ModelError(f"lane {self.index}: length_m (={self.length_m}) must be > 0")
        if self.speed_m_s <= 0:
            raise ModelError(f"lane {self.index}: speed_m_s (={self.speed_m_s}) must be > 0")
        if not math.isfinite(self.width_m) or self.width_m <= 0:
            raise ModelError(f"lane {self.index}: width_m (={self.width_m}) must be a finite number > 0")


@dataclass(frozen=True, slots=True)
class Link:
    """A directed road segment from ``from_node`` to ``to_node`` with its lanes (index 0 = rightmost)."""

    id: str
    from_node: str
    to_node: str
    lanes: tuple[Lane, ...]
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lanes", tuple(self.lanes))
        if not self.lanes:
            raise ModelError(f"link {self.id!r}: needs at least one lane")
        indices = [lane.index for lane in self.lanes]
        if indices != list(range(len(self.lanes))):
            raise ModelError(f"link {self.id!r}: lane indices {indices} must be 0..{len(self.lanes) - 1}")

    @property
    def num_lanes(self) -> int:
        return len(self.lanes)

    @property
    def length_m(self) -> float:
        """Length of the rightmost lane, node exit to stop line."""
        return self.lanes[0].length_m

    @property
    def speed_m_s(self) -> float:
        """Speed limit (the highest of its lanes)."""
        return max(lane.speed_m_s for lane in self.lanes)

    @property
    def free_flow_time_s(self) -> float:
        return self.length_m / self.speed_m_s

    def storage_capacity_veh(self, jam_spacing_m: float = JAM_SPACING_M) -> int:
        """Vehicles the link holds at jam density, summed over its lanes."""
        return sum(max(1, int(lane.length_m // jam_spacing_m)) for lane in self.lanes)

    @property
    def width_m(self) -> float:
        """Carriageway width: the sum of its lanes' widths."""
        return sum(lane.width_m for lane in self.lanes)

    def lanes_serving(self, movement_id: str) -> tuple[int, ...]:
        return tuple(lane.index for lane in self.lanes if movement_id in lane.movements)


@dataclass(frozen=True)
class Network:
    """Nodes, links and the movements (turns) joining links at every junction.

    ``graph`` is a networkx ``MultiDiGraph`` of nodes with one edge per link (key = link id), built on first use.
    ``yields`` holds the right of way at unsignalised nodes: ordered pairs ``(a, b)`` of movements
    at one such node where ``a`` gives way to ``b`` (minor road to major road, right before left;
    from SUMO's ``response`` bits; at zipper and all-way stop nodes every conflicting pair both ways, as
    SUMO's bits say: ``NodeKind``). Signalised nodes keep theirs in their ``Intersection``.
    """

    nodes: Mapping[str, Node]
    links: Mapping[str, Link]
    movements: Mapping[str, Movement] = field(default_factory=dict)
    yields: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", FrozenMap(dict(self.nodes)))
        object.__setattr__(self, "links", FrozenMap(dict(self.links)))
        object.__setattr__(self, "movements", FrozenMap(dict(self.movements)))
        object.__setattr__(self, "yields", frozenset((str(a), str(b)) for a, b in self.yields))
        for link in self.links.values():
            for end in (link.from_node, link.to_node):
                if end not in self.nodes:
                    raise ModelError(f"link {link.id!r}: unknown node {end!r}")
        self._check_movements()
        self._check_yields()

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        import networkx as nx

        graph = nx.MultiDiGraph()
        for node in self.nodes.values():
            graph.add_node(node.id, kind=node.kind.value, x_m=node.x_m, y_m=node.y_m)
        for link in self.links.values():
            graph.add_edge(link.from_node, link.to_node, key=link.id,
                           length_m=link.length_m, time_s=link.free_flow_time_s)
        return graph

    def _check_movements(self) -> None:
        for m in self.movements.values():
            for attr in ("from_link", "to_link"):
                if getattr(m, attr) not in self.links:
                    raise ModelError(f"movement {m.id!r}: unknown {attr} {getattr(m, attr)!r}")
            src, dst = self.links[m.from_link], self.links[m.to_link]
            if src.to_node != m.node or dst.from_node != m.node:
                raise ModelError(f"movement {m.id!r}: links {m.from_link!r} -> {m.to_link!r} do not meet at "
                                 f"node {m.node!r}")
            bad = [i for i in m.from_lanes if i >= src.num_lanes] + [i for i in m.to_lanes if i >= dst.num_lanes]
            if bad:
                raise ModelError(f"movement {m.id!r}: lane indices {bad} do not exist")
        for link in self.links.values():
            for lane in link.lanes:
                for mid in lane.movements:
                    if mid not in self.movements or self.movements[mid].from_link != link.id:
                        raise ModelError(f"link {link.id!r} lane {lane.index}: serves unknown movement {mid!r}")

    def _check_yields(self) -> None:
        for a, b in sorted(self.yields):
            for mid in (a, b):
                if mid not in self.movements:
                    raise ModelError(f"yield ({a!r}, {b!r}): unknown movement {mid!r}")
            node = self.movements[a].node
            if self.movements[b].node != node:
                raise ModelError(f"yield ({a!r}, {b!r}): the movements are at different nodes")
            if a == b:
                raise ModelError(f"yield ({a!r}, {b!r}): a movement cannot give way to itself")
            if self.nodes[node].kind is NodeKind.SIGNAL:
                raise ModelError(f"yield ({a!r}, {b!r}): node {node!r} is signalised (its intersection holds "
                                 "its yield rules)")

    def yields_at(self, movement_id: str) -> tuple[str, ...]:
        """Movements that ``movement_id`` gives way to at its unsignalised node, sorted."""
        return tuple(sorted(b for a, b in self.yields if a == movement_id))

    @classmethod
    def build(cls, nodes: Iterable[Node], links: Iterable[Link], movements: Iterable[Movement] = (),
              yields: Iterable[tuple[str, str]] = ()) -> Network:
        node_map: dict[str, Node] = {}
        for node in nodes:
            if node.id in node_map:
                raise ModelError(f"duplicate node id {node.id!r}")
            node_map[node.id] = node
        link_map: dict[str, Link] = {}
        for link in links:
            if link.id in link_map:
                raise ModelError(f"duplicate link id {link.id!r}")
            link_map[link.id] = link
        movement_map: dict[str, Movement] = {}
        for m in movements:
            if m.id in movement_map:
                raise ModelError(f"duplicate movement id {m.id!r}")
            movement_map[m.id] = m
        return cls(node_map, link_map, movement_map, frozenset(yields))

    def link(self, link_id: str) -> Link:
        try:
            return self.links[link_id]
        except KeyError:
            raise ModelError(f"unknown link {link_id!r}") from None

    def incoming(self, node_id: str) -> list[Link]:
        return [self.links[k] for _, _, k in self.graph.in_edges(node_id, keys=True)]

    def outgoing(self, node_id: str) -> list[Link]:
        return [self.links[k] for _, _, k in self.graph.out_edges(node_id, keys=True)]

    def signal_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind is NodeKind.SIGNAL]

    def total_lane_length_m(self) -> float:
        return sum(lane.length_m for link in self.links.values() for lane in link.lanes)

    def movements_at(self, node_ids: Iterable[str]) -> list[Movement]:
        wanted = set(node_ids)
        return [m for m in self.movements.values() if m.node in wanted]

    def movement_between(self, from_link: str, to_link: str) -> Movement | None:
        return self._movement_index.get((from_link, to_link))

    @cached_property
    def _movement_index(self) -> dict[tuple[str, str], Movement]:
        index: dict[tuple[str, str], Movement] = {}
        for m in self.movements.values():
            index.setdefault((m.from_link, m.to_link), m)
        return index

    @cached_property
    def link_graph(self) -> nx.DiGraph:
        """Links as nodes, movements as edges; edge weight ``time_s`` = free-flow time to cross the
        downstream link plus the junction, so a shortest path is a fastest free-flow route."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.links)
        for m in self.movements.values():
            to = self.links[m.to_link]
            g.add_edge(m.from_link, m.to_link, time_s=m.internal_time_s + to.free_flow_time_s)
        return g

    def check_route(self, links: Iterable[str]) -> tuple[str, ...]:
        """Return the route as a tuple if every link exists and each consecutive pair is joined by a
        movement; raise ``ModelError`` naming the first break otherwise."""
        route = tuple(links)
        if not route:
            raise ModelError("route has no links")
        for link_id in route:
            self.link(link_id)
        for a, b in itertools.pairwise(route):
            if self.movement_between(a, b) is None:
                raise ModelError(f"no movement from link {a!r} to link {b!r}")
        return route

    def fastest_route(self, origin_link: str, destination_link: str) -> tuple[str, ...]:
        """Free-flow fastest route (Dijkstra on ``link_graph``) from one link to another, both included."""
        self.link(origin_link)
        self.link(destination_link)
        import networkx as nx

        try:
            path = nx.shortest_path(self.link_graph, origin_link, destination_link, weight="time_s")
        except nx.NetworkXNoPath:
            raise ModelError(f"no route from link {origin_link!r} to link {destination_link!r}") from None
        return tuple(path)
