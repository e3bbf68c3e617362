"""Stop-line servers: one long-lived SimPy process per approach lane.

A lane holds its vehicles in arrival order (no overtaking within a lane). Its head vehicle
crosses the stop line at the earliest time that satisfies all of: it has arrived, the saturation
headway since the previous crossing has passed, its movement has green (plus the start-up time
when the queue stood at red), a yielding movement has an acceptable gap, and the downstream link
has room (otherwise the queue spills back). Yielding turners may wait inside the junction
(``JunctionSlot``) so they do not block the lane behind them.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from typing import TYPE_CHECKING

import simpy

from simulation.model import LinkState, MoveState, Vehicle

if TYPE_CHECKING:
    from simulation.engine import Simulation


def wake_at(env: simpy.Environment, event: simpy.Event, t_s: float) -> None:
    """Trigger ``event`` at time ``t_s`` (not before now): an idle lane sleeps straight on until its new
    vehicle reaches the stop line, instead of waking now only to go back to sleep (one event fewer
    per vehicle that finds its lane empty). Same effect as ``succeed()`` with a delay."""
    event._ok = True
    event._value = None
    env.schedule(event, delay=max(0.0, t_s - env.now))


class LaneServer:
    __slots__ = ("capacity", "entering_at", "idle", "index", "last_arrival_s", "last_dep_move", "last_dep_s", "link",
                 "occupancy", "proc", "queue", "run_k", "sim", "sleeping_until", "space_waiters")

    def __init__(self, sim: Simulation, link: LinkState, index: int, capacity: int) -> None:
        self.sim = sim
        self.link = link
        self.index = index
        self.capacity = capacity
        self.occupancy = 0  # vehicles assigned to this lane, from leaving the upstream stop line to crossing its own
        # when assigned vehicles still driving through the upstream junction reach the lane (appended
        # by Simulation.cross, pruned from the front as they arrive)
        self.entering_at: deque[float] = deque()
        self.space_waiters: list[tuple[float, simpy.Event]] = []  # (waiting since, event)
        self.queue: deque[Vehicle] = deque()
        self.last_dep_s = -math.inf
        self.last_dep_move: MoveState | None = None
        self.last_arrival_s = -math.inf
        self.idle: simpy.Event | None = None
        self.run_k = 0
        self.sleeping_until = -math.inf
        self.proc = sim.env.process(self.run())

    def append(self, v: Vehicle) -> None:
        self.queue.append(v)
        if self.idle is not None:
            ev, self.idle = self.idle, None
            wake_at(self.sim.env, ev, v.stop_arrival_s)

    def stored(self, now_s: float) -> int:
        """Vehicles on the lane itself now: those assigned to it less those still driving through the
        junction upstream. Room is judged on these (a short lane behind a long junction path holds a
        vehicle on the lane while the next ones are still in the junction, as in SUMO)."""
        entering = self.entering_at
        while entering and entering[0] <= now_s:
            entering.popleft()
        return self.occupancy - sum(1 for t in entering if t > now_s)

    def queued(self, now_s: float) -> int:
        """Vehicles standing at (or arrived at) the stop line now."""
        n = 0
        for v in self.queue:
            if v.stop_arrival_s > now_s:
                break
            n += 1
        return n

    def run(self):
        sim = self.sim
        env = sim.env
        params = sim.params
        queue = self.queue
        while True:
            if not queue:
                self.idle = env.event()
                yield self.idle
                continue
            v = queue[0]
            mv = v.moves[v.leg]
            now = env.now
            headway = mv.headway_s + v.headway_dev_s
            t = max(now, v.stop_arrival_s, self.last_dep_s + (headway if headway > 1.0 else 1.0))
            timer = mv.timer
            if timer is not None:
                t_go, go_end, permissive, waited = timer.next_go(mv.id, t)
                if waited:
                    t_go += params.startup_s
            else:  # unsignalised: a movement with priority streams always gives way
                t_go, go_end, permissive, waited = t, math.inf, bool(mv.priority), False
                rule = mv.rule
                if rule is not None:  # zipper, all-way stop, rail crossing: decide again when it may go
                    free_at = rule.free_at(sim, v, self, mv, t)
                    if free_at > now:
                        self.sleeping_until = free_at
                        with contextlib.suppress(simpy.Interrupt):
                            yield env.timeout(free_at - now)
                        self.sleeping_until = -math.inf
                        continue
            if t_go > now:
                if t_go == math.inf or t_go >= go_end:
                    # not served by the plan in force, or a window shorter than the start-up time
                    self.sleeping_until = wake = min(go_end, now + 60.0)
                    with contextlib.suppress(simpy.Interrupt):
                        yield env.timeout(wake - now)
                    self.sleeping_until = -math.inf
                    continue
                self.sleeping_until = t_go
                try:
                    yield env.timeout(t_go - now)
                except simpy.Interrupt:  # a plan change: decide again
                    self.sleeping_until = -math.inf
                    continue
                self.sleeping_until = -math.inf
                # nothing that decided t_go can have changed: the head vehicle, the last departure
                # and the signal windows are this lane's own (plan changes interrupt the sleep)
                now = env.now
            if permissive:
                free_at = sim.blocked_until(mv, now)
                if free_at > now:
                    slot = mv.slot
                    if slot is not None and slot.has_room():
                        queue.popleft()
                        sim.leave_lane(self, v, mv, now, into_slot=True)
                        slot.enter(v, go_end, self.index)
                        continue
                    with contextlib.suppress(simpy.Interrupt):
                        yield env.timeout(min(free_at, go_end) - now)
                    continue
            target = sim.next_lane(v, from_lane=self.index)
            if target is False:
                target = yield from sim.room_ahead(v, self.index)
                if target is False:
                    continue  # waited for room: the signal may have changed meanwhile, decide again
            queue.popleft()
            sim.leave_lane(self, v, mv, env.now, into_slot=False)
            sim.cross(v, mv, env.now, target)


class JunctionSlot:
    """Waiting room inside the junction for a yielding movement (e.g. a permissive left)."""

    __slots__ = ("capacity", "clear_at", "from_lane", "idle", "move", "proc", "queue", "sim")

    def __init__(self, sim: Simulation, move: MoveState, capacity: int) -> None:
        self.sim = sim
        self.move = move
        self.capacity = capacity
        self.queue: deque[Vehicle] = deque()
        self.clear_at: deque[float] = deque()
        self.from_lane: deque[int] = deque()  # the lane each waiting vehicle came from
        self.idle: simpy.Event | None = None
        self.proc = sim.env.process(self.run())

    def has_room(self) -> bool:
        return len(self.queue) < self.capacity

    def enter(self, v: Vehicle, go_end_s: float, from_lane: int) -> None:
        self.queue.append(v)
        self.clear_at.append(go_end_s)
        self.from_lane.append(from_lane)
        if self.idle is not None:
            ev, self.idle = self.idle, None
            ev.succeed()

    def run(self):
        sim = self.sim
        env = sim.env
        mv = self.move
        while True:
            if not self.queue:
                self.idle = env.event()
                yield self.idle
                continue
            now = env.now
            clear_at = self.clear_at[0]
            # a turner inside the junction leaves when the priority stream leaves a gap, or
            # clears the junction once its green ends (the "sneakers" at the end of the phase)
            free_at = now if now >= clear_at else sim.blocked_until(mv, now)
            if free_at > now:
                yield env.timeout(min(free_at, clear_at) - now)
                continue
            v = self.queue[0]
            target = yield from sim.room_ahead(v, self.from_lane[0])
            if target is False:
                continue
            self.queue.popleft()
            self.clear_at.popleft()
            self.from_lane.popleft()
            sim.cross(v, mv, env.now, target)
            yield env.timeout(sim.params.follow_up_s * 0.5)
