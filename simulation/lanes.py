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
from heapq import heappush
from typing import TYPE_CHECKING

import numpy as np
import simpy
from simpy.events import NORMAL, Timeout

from simulation.mixed_queue import filter_order
from simulation.model import LinkState, MoveState, Vehicle
from simulation.signals import SignalTimer

if TYPE_CHECKING:
    from simulation.engine import Simulation


def wake_at(env: simpy.Environment, event: simpy.Event, t_s: float) -> None:
    """Trigger ``event`` at time ``t_s`` (not before now): an idle lane sleeps straight on until its new
    vehicle reaches the stop line, instead of waking now only to go back to sleep (one event fewer
    per vehicle that finds its lane empty). Same effect as ``succeed()`` with a delay."""
    event._ok = True
    event._value = None
    env.schedule(event, delay=max(0.0, t_s - env.now))


class KindTables:
    """Per vehicle kind (index of the scenario's vehicle type) in one lane (``simulation.mixed_queue``):
    ``space`` car slots of storage, ``share`` of the movement's headway at the stop line, ``narrow``
    (may filter past standing vehicles), ``room[i, j]`` (vehicles of kind ``j`` that stand beside a
    standing ``i``, ``mixed_queue.strip_room``) and ``width_m``."""

    __slots__ = ("narrow", "room", "share", "space", "width_m")

    def __init__(self, space: list[float], share: list[float], room: np.ndarray, width_m: np.ndarray) -> None:
        self.space = space
        self.share = share
        self.room = room
        self.width_m = width_m
        self.narrow = [bool(room[:, j].any()) for j in range(room.shape[1])]


CAR_KINDS = KindTables([1.0], [1.0], np.zeros((1, 1), dtype=np.int64), np.array([1.8]))
"""Every vehicle as a car: one 7.5-m slot, the movement's headway, no filtering."""


class LaneServer:
    __slots__ = ("capacity", "entering_at", "green_at_s", "idle", "index", "kinds", "last_arrival_s",
                 "last_dep_move", "last_dep_s", "last_space", "link", "n_narrow", "occupancy", "proc", "queue",
                 "run_k", "run_slots", "sim", "sleeping_until", "space_waiters", "used")

    def __init__(self, sim: Simulation, link: LinkState, index: int, capacity: int,
                 kinds: KindTables = CAR_KINDS) -> None:
        self.sim = sim
        self.link = link
        self.index = index
        self.capacity = capacity
        self.kinds = kinds
        self.occupancy = 0  # vehicles assigned to this lane, from leaving the upstream stop line to crossing its own
        self.used = 0.0  # the room they take, in car slots (kinds.space): what ``capacity`` limits
        self.n_narrow = 0  # vehicles in ``queue`` that may filter
        self.green_at_s = -math.inf  # onset of the green the lane last waited for
        self.run_slots = 0.0  # room taken by the vehicles that left ahead in the current discharge run
        self.last_space = 0.0  # room of the vehicle that crossed last
        # when assigned vehicles still driving through the upstream junction reach the lane, and the room
        # they take (appended by Simulation.cross, pruned from the front as they arrive)
        self.entering_at: deque[tuple[float, float]] = deque()
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
        if self.kinds.narrow[v.kind]:
            self.n_narrow += 1
        if self.idle is not None:
            ev, self.idle = self.idle, None
            wake_at(self.sim.env, ev, v.stop_arrival_s)

    def stored(self, now_s: float) -> float:
        """Room taken on the lane itself now (car slots): the vehicles assigned to it less those still
        driving through the junction upstream. Room is judged on these (a short lane behind a long junction
        path holds a vehicle on the lane while the next ones are still in the junction, as in SUMO)."""
        entering = self.entering_at
        while entering and entering[0][0] <= now_s:
            entering.popleft()
        return self.used - sum(space for t, space in entering if t > now_s)

    def take(self, v: Vehicle) -> None:
        """Remove ``v`` from the queue (the head, or a vehicle that filtered past it)."""
        queue = self.queue
        if queue[0] is v:
            queue.popleft()
        else:
            queue.remove(v)
        if self.kinds.narrow[v.kind]:
            self.n_narrow -= 1

    def queued(self, now_s: float) -> int:
        """Vehicles standing at (or arrived at) the stop line now."""
        n = 0
        for v in self.queue:
            if v.stop_arrival_s > now_s:
                break
            n += 1
        return n

    def filter_standing(self, green_at_s: float) -> None:
        """Narrow vehicles standing at red ride up beside the wider ones ahead (``mixed_queue.filter_order``):
        reorder the vehicles that arrived before ``green_at_s``."""
        queue = self.queue
        n = 0
        for v in queue:
            if v.stop_arrival_s >= green_at_s:
                break
            n += 1
        if n < 2:
            return
        standing = [queue.popleft() for _ in range(n)]
        narrow = self.kinds.narrow
        kinds = np.array([v.kind for v in standing], dtype=np.int64)
        filters = np.array([narrow[v.kind] for v in standing], dtype=bool)
        order = filter_order(kinds, filters, self.kinds.room, self.kinds.width_m)
        queue.extendleft(standing[k] for k in order[::-1])

    def run(self):
        sim = self.sim
        env = sim.env
        params = sim.params
        startup_s = params.startup_s
        queue = self.queue
        share_of = self.kinds.share
        index = self.index
        events = env._queue  # SimPy's event queue and counter: the sleep below is env.timeout(), inlined
        eids = env._eid
        new = object.__new__
        route_lanes = sim.route_lanes
        take, leave_lane, discharge = self.take, sim.leave_lane, sim.discharge
        while True:
            if not queue:
                self.idle = env.event()
                yield self.idle
                continue
            v = queue[0]
            mv = v.moves[v.leg]
            now = env._now
            headway = mv.headway_s + v.headway_dev_s
            t = self.last_dep_s + (headway if headway > 1.0 else 1.0) * share_of[v.kind]
            if t < now:
                t = now
            if t < v.stop_arrival_s:  # max(now, arrival, headway), as in the plain form
                t = v.stop_arrival_s
            timer = mv.timer
            if timer is not None:
                hit = timer._cache.get(mv.id) if type(timer) is SignalTimer else None
                if hit is not None and hit[0] <= t < hit[2]:  # SignalTimer.next_go's cached answer, inlined
                    go_end, permissive = hit[2], hit[3]
                    if t >= hit[1]:
                        t_go, waited = t, False
                    else:
                        t_go, waited = hit[1] + startup_s, True
                else:
                    t_go, go_end, permissive, waited = timer.next_go(mv.id, t)
                    if waited:
                        t_go += startup_s
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
                delay = t_go - now
                sleep = new(Timeout)  # env.timeout(delay), inlined: once per stop-line crossing
                sleep.env = env
                sleep.callbacks = []
                sleep._value = None
                sleep._delay = delay
                sleep._ok = True
                heappush(events, (env._now + delay, NORMAL, next(eids), sleep))
                try:
                    yield sleep
                except simpy.Interrupt:  # a plan change: decide again
                    self.sleeping_until = -math.inf
                    continue
                self.sleeping_until = -math.inf
                if waited:
                    self.green_at_s = t_go - startup_s
                    if self.n_narrow:  # narrow vehicles that came during red filter forward: decide again
                        self.filter_standing(self.green_at_s)
                        continue
                # nothing that decided t_go can have changed: the head vehicle, the last departure
                # and the signal windows are this lane's own (plan changes interrupt the sleep)
                now = env._now
            if permissive:
                free_at = sim.blocked_until(mv, now)
                if free_at > now:
                    slot = mv.slot
                    if slot is not None and slot.has_room():
                        take(v)
                        leave_lane(self, v, mv, now, True)
                        slot.enter(v, go_end, index)
                        continue
                    with contextlib.suppress(simpy.Interrupt):
                        yield env.timeout(min(free_at, go_end) - now)
                    continue
            # sim.next_lane(v, from_lane=index), inlined: once per stop-line crossing
            leg = v.leg + 1
            moves = v.moves
            if leg >= len(moves):
                target = None
            else:
                tables = route_lanes[v.route]
                lanes = moves[leg].lanes if tables is None else (tables[leg].get(index) or moves[leg].lanes)
                target = False
                for lane in lanes:
                    if (target is False or lane.used < target.used) and \
                            (lane.used < lane.capacity or lane.stored(now) < lane.capacity):
                        target = lane
                if target is False:
                    target = yield from sim.room_ahead(v, index)
                    if target is False:
                        continue  # waited for room: the signal may have changed meanwhile, decide again
            take(v)
            discharge(self, v, mv, env._now, target)  # sim.leave_lane, then sim.cross


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
