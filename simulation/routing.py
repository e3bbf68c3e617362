"""Which lanes and which routes vehicles take.

- ``lane_choices``: the lanes a vehicle may queue in on each link of its route, following the
  lane-to-lane connections of each movement, lane changes along a link as far as its length allows,
  and looking one link ahead (SUMO's strategic lane choice).
- ``LiveRouter``: fastest routes on current travel times, for origin-destination demand routed when
  it enters the network, as SUMO's rerouting device does for trips and flows given by ``from``/``to``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from simulation.model import LinkState, MoveState
from traffic.errors import ModelError
from traffic.intersection import Movement
from traffic.network import JAM_SPACING_M

if TYPE_CHECKING:
    from simulation.engine import Simulation
    from simulation.lanes import LaneServer

LaneTable = dict[int | None, tuple["LaneServer", ...]]
"""Lane index on the previous link (``None`` at insertion) -> lanes to choose from on this link."""


def lane_choices(movements: Mapping[str, Movement], moves: Sequence[MoveState],
                 lane_change_s: float, memo: dict[tuple, LaneTable] | None = None) -> list[LaneTable]:
    """Lanes a vehicle on this route may queue in on each link, by the lane it comes from.

    A vehicle enters a link on a lane its movement's connections reach from its lane, then may
    change lanes along the link: one lane per ``lane_change_s`` of driving at the speed limit plus
    two jam spacings (SUMO LC2013's strategic look-ahead; 0: any number of changes), so a short
    turn pocket keeps it in the lane it entered while a long link lets it pick any lane.
    It queues in a lane that serves its next movement there, preferring lanes from which the
    movement after that can be reached the same way (SUMO's strategic lane choice, one link
    ahead). A rule that leaves no lane falls back to the next looser one, the loosest being every
    lane that serves the movement.

    A leg's table depends only on the movements before, at and after it: with ``memo`` (one dict per
    simulation, shared by its routes) routes through the same legs share their tables (read-only).
    """
    out: list[LaneTable] = []
    last = len(moves) - 1
    for k, mv in enumerate(moves):
        if memo is not None:
            key = (moves[k - 1] if k else None, mv, moves[k + 1] if k < last else None)
            hit = memo.get(key)
            if hit is None:
                hit = memo[key] = _leg_table(movements, moves, k, lane_change_s)
            out.append(hit)
        else:
            out.append(_leg_table(movements, moves, k, lane_change_s))
    return out


def _leg_table(movements: Mapping[str, Movement], moves: Sequence[MoveState], k: int,
               lane_change_s: float) -> LaneTable:
    """``lane_choices`` of leg ``k`` of the route ``moves``."""
    mv = moves[k]
    serving = tuple(mv.lanes)
    good = serving
    if k + 1 < len(moves):
        nxt = moves[k + 1]
        changes = _changes(nxt.from_link, lane_change_s)
        good = tuple(lane for lane in serving
                     if _queue_lanes(movements[mv.id].reachable_lanes(lane.index), nxt.lanes, changes)) or serving
    if k == 0:
        return {None: good}
    prev = movements[moves[k - 1].id]
    changes = _changes(mv.from_link, lane_change_s)
    table: LaneTable = {}
    for lane in moves[k - 1].lanes:
        reach = prev.reachable_lanes(lane.index)
        table[lane.index] = (_queue_lanes(reach, good, changes) or _queue_lanes(reach, serving, changes)
                             or good)
    return table


def _changes(link: LinkState, lane_change_s: float) -> float:
    """Lane changes a vehicle can make along ``link``."""
    if lane_change_s <= 0:
        return math.inf
    return link.length_m // (link.speed_m_s * lane_change_s + 2.0 * JAM_SPACING_M)


def _queue_lanes(entered: tuple[int, ...] | None, lanes: Sequence[LaneServer], changes: float
                 ) -> tuple[LaneServer, ...]:
    """The ``lanes`` a vehicle can queue in after entering on one of the ``entered`` lanes (``None``:
    any) and changing lanes at most ``changes`` times."""
    if entered is None:
        return tuple(lanes)
    return tuple(x for x in lanes if any(abs(x.index - e) <= changes for e in entered))


class LiveRouter:
    """Fastest routes on current travel times, as SUMO's rerouting device computes them.

    Every ``sample_s`` each link's mean speed is sampled as SUMO's ``MSEdge::getMeanSpeed`` does
    (per lane, the mean speed of its vehicles, an empty lane counting once at the speed limit; a
    vehicle standing in a queue has speed 0, one driving has the link's free speed) and averaged
    over the last ``window_s``. A link's travel time is its length over that speed, at least its
    free-flow time; a movement adds its free-flow time through the junction and, where it gives way
    at an unsignalised junction, ``minor_penalty_s`` (SUMO's ``--weights.minor-penalty``).
    Routes are cached per origin and destination until the next sample.
    """

    def __init__(self, sim: Simulation, sample_s: float, window_s: float, minor_penalty_s: float) -> None:
        self.sim = sim
        self.sample_s = sample_s
        net = sim.scenario.network
        self._links: list[LinkState] = list(sim.links.values())
        self._index = {link.id: i for i, link in enumerate(self._links)}
        self._lane_count = [net.links[link.id].num_lanes for link in self._links]
        self._limit = np.array([link.speed_m_s for link in self._links])
        self._length = np.array([link.length_m for link in self._links])
        steps = max(1, round(window_s / sample_s))
        self._samples = np.tile(self._limit, (steps, 1))
        self._sum = self._samples.sum(axis=0)
        self._k = 0
        self._effort = self._length / self._limit
        self._out: list[list[tuple[int, float]]] = [[] for _ in self._links]  # link -> (next link, junction cost)
        for mv in sim.moves.values():
            cost = mv.ideal_a + (minor_penalty_s if mv.priority and mv.timer is None else 0.0)
            self._out[self._index[mv.from_link.id]].append((self._index[mv.to_link.id], cost))
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def sample(self, now_s: float) -> None:
        """Add the links' current mean speeds to the moving average and refresh the travel times."""
        dawdle = self.sim.params.dawdle
        speeds = np.empty(len(self._links))
        for i, link in enumerate(self._links):
            limit = link.speed_m_s
            weight = float(self._lane_count[i] - len(link.lanes))  # lanes nobody queues in: empty
            total = weight * limit
            for lane in link.lanes:
                n = len(lane.queue)
                if n == 0:
                    weight += 1.0
                    total += limit
                else:
                    weight += n
                    total += (n - lane.queued(now_s)) * limit * dawdle
            if link.occupancy:  # vehicles on their last link drive freely
                weight += link.occupancy
                total += link.occupancy * limit * dawdle
            speeds[i] = total / weight if weight > 0 else limit
        self._sum += speeds - self._samples[self._k]
        self._samples[self._k] = speeds
        self._k = (self._k + 1) % len(self._samples)
        mean = np.maximum(self._sum / len(self._samples), 1e-3)
        self._effort = np.maximum(self._length / mean, self._length / self._limit)
        self._cache.clear()

    def route(self, origin: str, destination: str) -> tuple[str, ...]:
        """Fastest route now from ``origin`` to ``destination`` (link ids, both included)."""
        key = (origin, destination)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._dijkstra(self._index[origin], self._index[destination])
        return hit

    def _dijkstra(self, src: int, dst: int) -> tuple[str, ...]:
        effort = self._effort
        best = {src: 0.0}
        parent: dict[int, int] = {}
        heap = [(0.0, src)]
        while heap:
            cost, i = heapq.heappop(heap)
            if i == dst:
                break
            if cost > best[i]:
                continue
            for j, junction_s in self._out[i]:
                c = cost + junction_s + effort[j]
                if c < best.get(j, float("inf")):
                    best[j] = c
                    parent[j] = i
                    heapq.heappush(heap, (c, j))
        if dst not in best:
            raise ModelError(f"no route from link {self._links[src].id!r} to link {self._links[dst].id!r}")
        path = [dst]
        while path[-1] != src:
            path.append(parent[path[-1]])
        return tuple(self._links[i].id for i in reversed(path))
