"""Right of way at zipper merges, all-way stops and rail crossings (``NodeKind``).

A priority junction resolves its conflicts by gap acceptance (``Simulation.blocked_until``). These
junctions do not: SUMO's bits say every conflicting movement gives way to every other, so the
movements take turns instead, and a rail crossing closes for trains. Each rule answers one question
for the head vehicle of a lane: the earliest time it may cross given what the lanes hold now
(``free_at``); the lane decides again at that time, since the foes' queues change meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from simulation.model import MoveState, Vehicle
from traffic.network import JAM_SPACING_M

if TYPE_CHECKING:
    from simulation.engine import Simulation
    from simulation.lanes import LaneServer

ALLWAY_STOP_WAIT_S = 1.0
"""How long a vehicle stands at an all-way stop line before it may go (about SUMO's default wait at a stop)."""

VEHICLE_LENGTH_M = 5.0
"""A car's length (SUMO's default), which must clear an all-way stop before a foe may go."""

RAIL_CLOSE_BEFORE_S = 15.0
"""A rail crossing closes this long before a train reaches it (close to SUMO's rail-crossing timing; not read
from the net)."""

RAIL_OPEN_AFTER_S = 6.0
"""...and opens this long after the train reached it (the train passing and the barriers opening)."""


class JunctionRule:
    """When the head vehicle of a lane may cross, given the other movements at its junction."""

    full_stop = False
    """Every vehicle comes to a standstill at the stop line (counted as a stop, accelerates from rest)."""

    def free_at(self, sim: Simulation, v: Vehicle, lane: LaneServer, mv: MoveState, t_s: float) -> float:
        raise NotImplementedError


def _waiting_heads(sim: Simulation, foes: Iterable[MoveState], t_s: float):
    """(foe movement, its lane, head vehicle) for every foe lane whose head vehicle is bound for that
    movement and has reached the stop line by ``t_s`` (vehicles waiting for room ahead excluded)."""
    for fm in foes:
        for lane in fm.lanes:
            if lane.queue:
                h = lane.queue[0]
                if h.moves[h.leg] is fm and h.stop_arrival_s <= t_s and h.vid not in sim._waiting_room:
                    yield fm, lane, h


class TakeTurns(JunctionRule):
    """Conflicting movements take turns, in order of their vehicles' turn time.

    A vehicle's turn comes when it is at the stop line and the vehicle ahead of it in its lane has
    gone (plus, at an all-way stop, the time to move up, the stop and the standing wait). Ties go to
    the lower vehicle id. A vehicle lets every waiting foe with an earlier turn go first, and keeps
    ``clear_s[k]`` after foe ``k`` went. With queues on two approaches their turns alternate:
    whoever went last has the later turn (zipper merging, all-way stop service in turn).
    """

    __slots__ = ("clear_s", "foes", "full_stop", "move_up_s", "stop_s")

    def __init__(self, foes: list[MoveState], clear_s: list[float], *, stop_s: float = 0.0,
                 move_up_s: float = 0.0) -> None:
        self.foes = foes
        self.clear_s = dict(zip((id(f) for f in foes), clear_s, strict=True))
        self.stop_s = stop_s
        self.move_up_s = move_up_s
        self.full_stop = stop_s > 0.0

    def turn_s(self, v: Vehicle, lane: LaneServer, mv: MoveState) -> float:
        """When ``v`` (the head of ``lane``) is ready to go, its own lane's headway aside."""
        if self.stop_s > 0.0:
            return max(v.stop_arrival_s, lane.last_dep_s + self.move_up_s) + self.stop_s
        return max(v.stop_arrival_s, lane.last_dep_s)

    def free_at(self, sim: Simulation, v: Vehicle, lane: LaneServer, mv: MoveState, t_s: float) -> float:
        until = max(t_s, self.turn_s(v, lane, mv))
        mine = (self.turn_s(v, lane, mv), v.vid)
        for fm, flane, h in _waiting_heads(sim, self.foes, until):
            if (self.turn_s(h, flane, fm), h.vid) < mine:
                # it goes first: wait until it can have gone, then decide again
                ready = max(sim.env.now, self.turn_s(h, flane, fm), flane.last_dep_s + fm.headway_s)
                until = max(until, ready + self.clear_s[id(fm)])
        for fm in self.foes:
            clear = self.clear_s[id(fm)]
            for flane in fm.lanes:
                if flane.last_dep_move is fm and flane.last_dep_s + clear > until:
                    until = flane.last_dep_s + clear
        return until


class RailCrossing(JunctionRule):
    """A road movement over a level crossing: closed from ``RAIL_CLOSE_BEFORE_S`` before a train (a
    vehicle on a rail movement) reaches the crossing until ``RAIL_OPEN_AFTER_S`` after."""

    __slots__ = ("rails",)

    def __init__(self, rails: list[MoveState]) -> None:
        self.rails = rails

    def free_at(self, sim: Simulation, v: Vehicle, lane: LaneServer, mv: MoveState, t_s: float) -> float:
        until = t_s
        changed = True
        while changed:  # trains in a row keep it closed
            changed = False
            for rm in self.rails:
                for rlane in rm.lanes:
                    if rlane.last_dep_move is rm and rlane.last_dep_s + RAIL_OPEN_AFTER_S > until:
                        until, changed = rlane.last_dep_s + RAIL_OPEN_AFTER_S, True
                    for train in rlane.queue:
                        if train.stop_arrival_s >= until + RAIL_CLOSE_BEFORE_S:
                            break
                        if train.moves[train.leg] is rm:
                            opens = max(train.stop_arrival_s, sim.env.now) + RAIL_OPEN_AFTER_S
                            if opens > until:
                                until, changed = opens, True
        return until


def install_junction_rules(sim: Simulation) -> set[str]:
    """Give the movements at zipper, all-way stop and rail crossing nodes their rule; returns those
    nodes (their ``Network.yields`` are the rules' business, not gap acceptance's)."""
    from traffic.network import NodeKind

    net = sim.scenario.network
    p = sim.params
    kinds = {NodeKind.ZIPPER, NodeKind.ALLWAY_STOP, NodeKind.RAIL_CROSSING}
    nodes = {n.id for n in net.nodes.values() if n.kind in kinds}
    if not nodes:
        return nodes
    # every movement at an all-way stop stops, those without foes too
    foes: dict[str, list[MoveState]] = {m.id: [] for m in net.movements.values()
                                        if net.nodes[m.node].kind is NodeKind.ALLWAY_STOP}
    for a, b in sorted(net.yields):
        if net.movements[a].node in nodes:
            foes.setdefault(a, []).append(sim.moves[b])
            if net.nodes[net.movements[a].node].kind is not NodeKind.RAIL_CROSSING:
                foes.setdefault(b, [])  # taking turns: both ways, whatever the bits say
                if sim.moves[a] not in foes[b]:
                    foes[b].append(sim.moves[a])
    move_up_s = math.sqrt(2.0 * JAM_SPACING_M / p.accel_m_s2)  # from rest to the line behind the vehicle ahead
    for mid, fms in foes.items():
        mv = sim.moves[mid]
        kind = net.nodes[net.movements[mid].node].kind
        if kind is NodeKind.ZIPPER:  # merging: a saturation headway behind the other stream's vehicle
            mv.rule = TakeTurns(fms, [mv.headway_s] * len(fms))
        elif kind is NodeKind.ALLWAY_STOP:  # the foe drives off from rest and must have cleared the junction
            clear = [max(p.follow_up_s, math.sqrt(2.0 * (fm.internal_length_m + VEHICLE_LENGTH_M) / p.accel_m_s2))
                     for fm in fms]
            v_in = mv.from_link.speed_m_s
            mv.rule = TakeTurns(fms, clear, stop_s=v_in / (2.0 * p.turn_decel_m_s2) + ALLWAY_STOP_WAIT_S,
                                move_up_s=move_up_s)
        else:
            mv.rule = RailCrossing(fms)
    return nodes
