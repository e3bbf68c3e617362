"""The simulation run: builds the network state from a scenario and drives it with SimPy."""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import simpy

from simulation.detectors import DetectorBank
from simulation.junction_rules import install_junction_rules
from simulation.lanes import CAR_KINDS, JunctionSlot, KindTables, LaneServer, wake_at
from simulation.mixed_queue import CAR_ACCEL_M_S2, lane_tables, strip_room
from simulation.model import LinkState, MoveState, Vehicle, VehicleLog
from simulation.params import DEFAULT_PARAMS, SimParams
from simulation.routing import LaneTable, LiveRouter, lane_choices
from simulation.signals import SignalTimer
from traffic.control import Controller, SignalState
from traffic.counts import IntervalCounts
from traffic.demand import Flow, Trip
from traffic.errors import ModelError, PlanValidationError
from traffic.network import JAM_SPACING_M
from traffic.plan_validation import (
    DEFAULT_RULES,
    ValidationRules,
    check_plan,
    conflict_issues,
    phase_conflict_issues,
    validate_plan,
)
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan
from traffic.stages import stage_set_issues

if TYPE_CHECKING:  # stage control is imported when a run uses it (start-up of plain runs)
    from simulation.stage_control import StageControl, StageControlSpec, StageTimer

def run_until(env: simpy.Environment, until: simpy.Event) -> None:
    """``env.run(until=until)`` with SimPy's ``step()`` inlined: the same events in the same order (time,
    priority, then scheduling order), without a method call and two exception frames per event."""
    if until.callbacks is None:
        return
    done: list[bool] = []
    until.callbacks.append(lambda _e: done.append(True))
    queue = env._queue
    pop = heapq.heappop
    while not done:
        if not queue:
            raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {until}')
        env._now, _, _, event = pop(queue)
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)  # as SimPy's step: a failed event no one handled
            exc.__cause__ = event._value
            raise exc
    if not until._ok:
        raise until._value


PlanDecider = Callable[[float, Mapping[str, IntervalCounts]], Mapping[str, SignalPlan] | None]
"""A bare controller hook: called at every detector interval with the counts of each intersection;
it returns the plans to switch to (by intersection id), or ``None``. Objects with a ``decide``
method (``traffic.control.Controller``) also receive the signals' state and may return plan
sequences (transition cycles)."""


def signals_to_run_issues(scenario: Scenario, stage_control: StageControlSpec | None = None,
                          rules: ValidationRules | None = DEFAULT_RULES) -> list[str]:
    """Every safety issue of what a run would show: each signal's active plan (except the signals a
    stage controller runs without plans) and every stage set of ``stage_control``. Empty means safe.

    ``rules=None`` checks only the conflict monitor (``traffic.compatibility``: no conflicting movements
    green together), for experiments with deliberately incomplete plans, e.g. a movement never served.
    """
    staged = stage_control.stage_sets if stage_control is not None else {}
    plan_free = set(staged) if stage_control is not None and not stage_control.follows_plans else set()
    issues: list[str] = []
    for iid, inter in scenario.intersections.items():
        if iid not in plan_free:
            plan = scenario.active_plan(iid)
            issues += conflict_issues(plan, inter) if rules is None else validate_plan(plan, inter, rules)
    for iid, stages in staged.items():
        known = scenario.intersections.get(iid)
        if known is not None and stages.intersection != known:
            issues.append(f"{iid!r}: the stage set is for another intersection than the scenario's")
        elif rules is None:
            issues += [i for k, st in enumerate(stages.stages)
                       for i in phase_conflict_issues(stages.as_phase(k), stages.intersection,
                                                      f"{iid!r}: stage {k} ({st.name})")]
        else:
            issues += stage_set_issues(stages, rules)
    return issues


def check_signals_to_run(scenario: Scenario, stage_control: StageControlSpec | None = None,
                         rules: ValidationRules | None = DEFAULT_RULES) -> None:
    """Raise ``PlanValidationError`` with every issue of ``signals_to_run_issues``: nothing runs an unsafe plan."""
    issues = signals_to_run_issues(scenario, stage_control, rules)
    if issues:
        raise PlanValidationError(issues)


class Simulation:
    """One seeded run of a scenario. Build it, then call ``run()`` once.

    Every plan it runs is validated first (``rules``): the scenario's active plans and the stage sets
    of ``stage_control`` when it is built (``PlanValidationError``: nothing runs), and every plan a
    controller asks for (``request_plan``). ``rules=None`` (lane-model experiments with deliberately
    incomplete plans) still refuses conflicting movements green together; no command or API path uses it.
    """

    def __init__(self, scenario: Scenario, seed: int = 1, params: SimParams = DEFAULT_PARAMS, *,
                 duration_s: float | None = None, detector_interval_s: float | None = None,
                 controller: PlanDecider | Controller | None = None, record_departures: bool = False,
                 progress: Callable[[float], None] | None = None,
                 stage_control: StageControlSpec | None = None,
                 rules: ValidationRules | None = DEFAULT_RULES) -> None:
        check_signals_to_run(scenario, stage_control, rules)
        self.rules = rules
        self.scenario = scenario
        self.departures: list[tuple[float, str, int]] | None = [] if record_departures else None
        self.seed = seed
        self.params = params
        self.env = simpy.Environment(initial_time=scenario.begin_s)
        self.rng = np.random.default_rng(seed)
        self.log = VehicleLog()
        self.controller = controller
        self.plan_changes: list[tuple[float, str, str]] = []
        self.teleports = 0
        self.inserted = 0
        self.finished = 0
        self.total = 0
        self._group_stats: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # n, delay, pcu, max
        self._inv_dawdle = 1.0 / params.dawdle
        self._stop_threshold_s = params.stop_threshold_s
        self._stop_go_loss_s = params.stop_go_loss_s
        # speed a vehicle has at the stop line when it leaves a standing queue from position k
        self._queue_speed_m_s = [math.sqrt(2.0 * params.accel_m_s2 * JAM_SPACING_M * k) for k in range(64)]
        self._min_gap_s = params.min_gap_s
        self._dawdle = params.dawdle
        self._two_accel = 2.0 * params.accel_m_s2
        self._blocked: dict[simpy.Event, Vehicle] = {}  # vehicles waiting for room, for the teleport watchdog
        self._waiting_room: set[int] = set()  # ids of vehicles waiting for room at a stop line
        self.on_last_link: dict[int, tuple[Vehicle, LinkState]] = {}  # vid -> vehicles driving their last link
        self._watchdog: simpy.Process | None = None
        self.horizon_s = (scenario.begin_s + duration_s) if duration_s is not None \
            else scenario.end_s + params.max_extra_s
        if stage_control is not None and controller is not None and not stage_control.follows_plans:
            raise ModelError("a simulation runs either plans with a plan controller or stage control, not both "
                             "(unless the stage controller follows the plans: coordinated-actuated control)")
        self.stage_control: StageControl | None = None
        if stage_control is not None:
            from simulation.stage_control import StageControl

            self.stage_control = StageControl(self, stage_control)
        self._follows_plans = stage_control is not None and stage_control.follows_plans
        """Stage control that times its stages around the plans (coordinated-actuated): plans still run."""
        self._build_network()
        if self.stage_control is not None:
            self.stage_control.start()
        self.router = (LiveRouter(self, params.routing_sample_s, params.routing_window_s,
                                  params.routing_minor_penalty_s) if params.dynamic_routing else None)
        self._od: dict[int, tuple[str, str]] = {}  # vehicles routed at insertion: vid -> (origin, destination)
        self._build_demand()
        if self.router is not None and self._od:
            self.env.process(self._sample_link_speeds())
        self.detectors = DetectorBank(self, detector_interval_s) if detector_interval_s else None
        if progress is not None:
            self.env.process(self._report_progress(progress))

    # --- construction ------------------------------------------------------------------------

    def _build_network(self) -> None:
        sc, p = self.scenario, self.params
        net = sc.network
        self.links: dict[str, LinkState] = {}
        for i, link in enumerate(net.links.values()):
            self.links[link.id] = LinkState(i, link.id, link.length_m, link.speed_m_s)
        staged = self.stage_control.timers if self.stage_control is not None else {}
        # every signal's plan clock: the plan in force and its cycle (what plan controllers change);
        # the lanes of a signal under stage control ask its stage timer instead
        self.plan_clocks: dict[str, SignalTimer] = {
            iid: SignalTimer(sc.active_plan(iid), p.yellow_go_s) for iid in sc.intersections}
        self.timers: dict[str, SignalTimer | StageTimer] = {
            iid: staged.get(iid) or self.plan_clocks[iid] for iid in sc.intersections}
        node_timer = {node: self.timers[iid] for iid, inter in sc.intersections.items() for node in inter.nodes}
        headway = {"s": p.headway_through_s, "r": p.headway_right_s, "l": p.headway_left_s, "t": p.headway_left_s}
        self.kind_of = {tid: k for k, tid in enumerate(sc.demand.vehicle_types)}
        kind_tables: dict[float, KindTables] = {}
        self.moves: dict[str, MoveState] = {}
        for m in net.movements.values():
            self.moves[m.id] = MoveState(m.id, self.links[m.from_link], self.links[m.to_link], m.turn.value,
                                         headway[m.turn.value], m.internal_length_m, m.internal_speed_m_s,
                                         node_timer.get(m.node))
        self.lanes_of_intersection: dict[str, list[LaneServer]] = defaultdict(list)
        node_inter = {node: iid for iid, inter in sc.intersections.items() for node in inter.nodes}
        for link in net.links.values():
            state = self.links[link.id]
            for lane in link.lanes:
                if not lane.movements:
                    continue
                kinds = kind_tables.get(lane.width_m)
                if kinds is None:
                    kinds = kind_tables[lane.width_m] = self._kind_tables(lane.width_m)
                server = LaneServer(self, state, lane.index, max(1, int(lane.length_m // JAM_SPACING_M)), kinds)
                state.lanes.append(server)
                for mid in lane.movements:
                    self.moves[mid].lanes.append(server)
                iid = node_inter.get(link.to_node)
                if iid is not None:
                    self.lanes_of_intersection[iid].append(server)
        for iid, inter in sc.intersections.items():
            for g in inter.lane_groups:
                stats = self._group_stats[f"{iid}/{g.id}"]
                for mid in g.movements:
                    for index in g.lanes:
                        self.moves[mid].lane_group[index] = f"{iid}/{g.id}"
                        self.moves[mid].lane_stats[index] = stats
            for a, b in sorted(inter.yields):
                self.moves[a].priority.append(self.moves[b])
        # zipper, all-way stop and rail crossing nodes: their own rules instead of gap acceptance
        turn_nodes = install_junction_rules(self)
        for a, b in sorted(net.yields):  # unsignalised junctions: minor gives way to major, always
            if not turn_nodes or net.movements[a].node not in turn_nodes:
                self.moves[a].priority.append(self.moves[b])
        for mv in self.moves.values():
            self._prepare_fast_internal(mv)
        if p.junction_storage_veh > 0:
            for mv in self.moves.values():
                # at a signal every yielding movement may wait inside the junction; at an unsignalised
                # junction only turners across the opposing stream do (SUMO's internal junctions)
                if mv.priority and (mv.timer is not None or mv.turn in ("l", "t")):
                    mv.slot = JunctionSlot(self, mv, p.junction_storage_veh)

    def _kind_tables(self, lane_width_m: float) -> KindTables:
        """Storage, discharge and filtering of each vehicle type in a lane of this width (``mixed_queue``)."""
        p = self.params
        types = list(self.scenario.demand.vehicle_types.values())
        if not types:
            return CAR_KINDS
        n = len(types)
        width = np.array([t.width_m for t in types])
        if not p.width_budget:
            return KindTables([1.0] * n, [1.0] * n, np.zeros((n, n), dtype=np.int64), width)
        gap = np.array([t.min_gap_lat_m for t in types])
        jam = np.array([t.jam_spacing_m for t in types])
        accel = np.array([t.accel_m_s2 for t in types])
        reaction_s = min(p.discharge_reaction_s, 0.9 * p.headway_through_s)
        space, share, cols = lane_tables(lane_width_m, width, gap, jam, accel, p.headway_through_s, reaction_s)
        car = np.isclose(jam, JAM_SPACING_M) & np.isclose(accel, CAR_ACCEL_M_S2) & (cols == 1)
        space[car] = 1.0  # exactly the car the headways describe: one slot, the movement's headway
        share[car] = 1.0
        room = strip_room(lane_width_m, width, gap, jam) if p.filtering else np.zeros((n, n), dtype=np.int64)
        return KindTables([float(x) for x in space], [float(x) for x in share], room, width)

    def _build_demand(self) -> None:
        sc, rng = self.scenario, self.rng
        d = sc.demand
        self.route_index: dict[tuple[str, ...], int] = {}  # links -> index in route_moves and route_lanes
        self.route_moves: list[tuple[MoveState, ...]] = []
        # per route, per leg (see routing.lane_choices); None where every lane serving a movement will do
        # (a network without lane-to-lane connections)
        self.route_lanes: list[list[LaneTable] | None] = []
        self._leg_tables: dict[tuple, LaneTable] = {}  # lane_choices' memo: routes through the same legs share
        self._connected = any(m.lane_pairs for m in sc.network.movements.values())
        self.route_names: list[str | None] = []
        self.flow_names: list[str] = []
        items_od: list[tuple[str, str] | None] = []
        # one insertion queue per entry link and first movement: a vehicle waiting for room in one
        # lane does not hold back vehicles bound for another
        pending: dict[tuple[str, str], list[tuple[float, int, int, str]]] = defaultdict(list)
        sources: tuple[Flow | Trip, ...] = (*d.flows, *d.trips)
        for fi, item in enumerate(sources):
            self.flow_names.append(item.id)
            origin, destination = item.origin, item.destination
            od = (origin, destination) if origin is not None and destination is not None else None
            items_od.append(od if item.route is None and self.router else None)
            links = sc.route_links(item)
            ri = self._route_id(links, item.route)
            times = item.arrival_times_s(rng) if isinstance(item, Flow) else np.array([item.depart_s])
            times = times[(times >= sc.begin_s) & (times < sc.end_s)]
            first_move = self.route_moves[ri][0].id if self.route_moves[ri] else ""
            for t in times:
                pending[(links[0], first_move)].append((float(t), fi, ri, item.vehicle_type))
        self.total = sum(len(v) for v in pending.values())
        self._entry_queues = []
        vid = 0
        for (link_id, _move), items in sorted(pending.items()):
            items.sort()
            n = len(items)
            sf = rng.normal(0.0, 1.0, n)  # standard normal, scaled per vehicle type below
            z = np.clip(rng.normal(0.0, 1.0, n), -2.5, 2.5)
            vehicles = []
            for k, (t, fi, ri, tid) in enumerate(items):
                vt = d.vehicle_types[tid]
                factor = vt.speed_factor * (1.0 + vt.speed_dev * sf[k])
                factor = min(max(factor, 0.8 * vt.speed_factor), 1.2 * vt.speed_factor)
                v = Vehicle(vid, fi, ri, self.route_moves[ri], factor, vt.max_speed_m_s, vt.vehicle_class, vt.pcu, t)
                v.kind = self.kind_of[tid]
                v.headway_dev_s = self.params.headway_sd_s * float(z[k])
                od = items_od[fi]
                if od is not None:
                    self._od[vid] = od
                vehicles.append(v)
                vid += 1
            self._entry_queues.append(self.env.process(self._insert(self.links[link_id], vehicles)))

    def _route_id(self, links: tuple[str, ...], name: str | None) -> int:
        """Index of the route over ``links`` (its movements and lane choices built on first use)."""
        ri = self.route_index.get(links)
        if ri is None:
            ri = self.route_index[links] = len(self.route_moves)
            net = self.scenario.network
            moves = []
            for a, b in itertools.pairwise(links):
                m = net.movement_between(a, b)
                if m is None:
                    raise ModelError(f"route {name or list(links)!r}: no movement from {a!r} to {b!r}")
                moves.append(self.moves[m.id])
            self.route_moves.append(tuple(moves))
            self.route_lanes.append(lane_choices(net.movements, self.route_moves[-1], self.params.lane_change_s,
                                                 self._leg_tables)
                                    if self._connected else None)
            self.route_names.append(name)
        return ri

    def _reroute(self, v: Vehicle) -> None:
        """Give an origin-destination vehicle the fastest route on current travel times."""
        assert self.router is not None
        ri = self._route_id(self.router.route(*self._od[v.vid]), None)
        v.route = ri
        v.moves = self.route_moves[ri]

    def _sample_link_speeds(self):
        assert self.router is not None
        while True:
            self.router.sample(self.env.now)
            yield self.env.timeout(self.router.sample_s)

    # --- vehicle movement ----------------------------------------------------------------------

    def _insert(self, link: LinkState, vehicles: list[Vehicle]):
        env = self.env
        pre_period_s = self.params.routing_pre_period_s
        for v in vehicles:
            t = math.ceil(v.depart_sched_s)  # SUMO inserts at the next whole step
            if t > env.now:
                yield env.timeout(t - env.now)
            routed_s = env.now
            if v.vid in self._od:
                self._reroute(v)
            lane = self.next_lane(v, first=True)
            while lane is False:
                yield from self.wait_for_space(v, first=True, teleport=False)
                if v.vid in self._od and env.now - routed_s >= pre_period_s > 0:
                    routed_s = env.now
                    self._reroute(v)
                lane = self.next_lane(v, first=True)
            v.depart_s = env.now
            self.inserted += 1
            self.enter_link(v, link, env.now + self.params.depart_loss_s, lane)

    def candidate_lanes(self, v: Vehicle, from_lane: int | None, first: bool = False) -> Sequence[LaneServer]:
        """Lanes ``v`` may queue in on its next link (on its first link when ``first``), coming from
        lane ``from_lane`` of its current link (see ``routing.lane_choices``)."""
        leg = v.leg if first else v.leg + 1
        tables = self.route_lanes[v.route]
        if tables is None:
            return v.moves[leg].lanes
        lanes = tables[leg].get(None if first else from_lane)
        return lanes if lanes is not None else v.moves[leg].lanes

    def next_lane(self, v: Vehicle, *, first: bool = False, force: bool = False,
                  from_lane: int | None = None) -> LaneServer | Literal[False] | None:
        """The lane ``v`` will queue in on its next link: the least loaded of its candidate lanes
        there (``candidate_lanes``) that has room; ``None`` on the last link of its route (no stop
        line); ``False`` when every such lane is full (the vehicle must wait: spillback). ``force``
        ignores room."""
        leg = v.leg if first else v.leg + 1
        if leg >= len(v.moves):
            return None
        tables = self.route_lanes[v.route]  # candidate_lanes, inlined: called once per stop-line crossing
        lanes = v.moves[leg].lanes if tables is None else \
            (tables[leg].get(None if first else from_lane) or v.moves[leg].lanes)
        best: LaneServer | Literal[False] = False
        for lane in lanes:
            if (best is False or lane.used < best.used) and \
                    (force or lane.used < lane.capacity or lane.stored(self.env._now) < lane.capacity):
                best = lane
        return best

    def enter_link(self, v: Vehicle, link: LinkState, t: float, lane: LaneServer | None) -> None:
        vmax = link.speed_m_s * v.sf
        if vmax > v.max_speed_m_s:
            vmax = v.max_speed_m_s
        ideal = link.length_m / vmax
        ff = ideal * self._inv_dawdle
        v.ideal_s += ideal
        if lane is None:
            link.occupancy += 1
            arrive = t + ff
            v.seg_entry_s = t
            v.stop_arrival_s = arrive
            self.on_last_link[v.vid] = (v, link)
            ev = self.env.timeout(arrive - self.env._now)
            ev.callbacks.append(lambda _e: self._finish(v, link))
            return
        mv = v.moves[v.leg]
        lane.occupancy += 1
        lane.used += lane.kinds.space[v.kind]
        a = t + ff
        earliest = lane.last_arrival_s + self._min_gap_s * lane.kinds.share[v.kind]
        if a < earliest:
            a = earliest
        lane.last_arrival_s = a
        v.stop_arrival_s = a
        v.seg_entry_s = t
        if v.max_speed_m_s >= mv.fast_vmax and v.sf <= 1.2:
            v.int_ff_s = mv.fast_a / v.sf + mv.fast_b * v.sf
        else:
            v.int_ff_s = self._internal_time(v, mv, stopped=False)
        v.seg_ff_s = ff + v.int_ff_s
        lane.queue.append(v)  # LaneServer.append, inlined: once per stop-line crossing
        if lane.kinds.narrow[v.kind]:
            lane.n_narrow += 1
        if lane.idle is not None:
            idle, lane.idle = lane.idle, None
            wake_at(self.env, idle, a)

    def _prepare_fast_internal(self, mv: MoveState) -> None:
        """Constants of ``_internal_time`` for a free-flowing vehicle: every speed scales with sf."""
        p = self.params
        v_in, v_out = mv.from_link.speed_m_s, mv.to_link.speed_m_s
        v_t = min(mv.internal_speed_m_s, v_in)
        mv.fast_a = mv.internal_length_m / (v_t * p.dawdle) if mv.internal_length_m > 0 else 0.0
        b = 0.0
        if v_t < v_in:
            b += (v_in - v_t) ** 2 / (2.0 * p.turn_decel_m_s2 * v_in)
        if v_t < v_out:
            b += (v_out - v_t) ** 2 / (2.0 * p.accel_m_s2 * v_out)
        mv.fast_b = b
        mv.fast_vmax = 1.2 * max(v_in, v_out)  # the highest speed factor SUMO draws is 1.2
        mv.ideal_a = mv.internal_length_m / v_t if mv.internal_length_m > 0 else 0.0

    def _internal_time(self, v: Vehicle, mv: MoveState, stopped: bool, k: int = 0) -> float:
        p = self.params
        v_in = min(mv.from_link.speed_m_s * v.sf, v.max_speed_m_s)
        v_t = min(mv.internal_speed_m_s * v.sf, v_in)
        v_out = min(mv.to_link.speed_m_s * v.sf, v.max_speed_m_s)
        t = mv.internal_length_m / (v_t * p.dawdle) if mv.internal_length_m > 0 else 0.0
        if stopped:
            v_k = self._queue_speed_m_s[k] if k < 64 else math.inf
            v_c = v_t if v_t < v_k else v_k
            return t + (v_out - v_c) ** 2 / (2.0 * p.accel_m_s2 * v_out)
        if v_t < v_in:
            t += (v_in - v_t) ** 2 / (2.0 * p.turn_decel_m_s2 * v_in)
        if v_t < v_out:
            t += (v_out - v_t) ** 2 / (2.0 * p.accel_m_s2 * v_out)
        return t

    def leave_lane(self, lane: LaneServer, v: Vehicle, mv: MoveState, now: float, into_slot: bool) -> None:
        """The head vehicle crosses the stop line (into the junction, or into its waiting slot)."""
        delay = now - v.stop_arrival_s
        if delay > self._stop_threshold_s or (mv.rule is not None and mv.rule.full_stop):
            v.stops += 1
            if delay > self._stop_go_loss_s:
                v.wait_s += delay - self._stop_go_loss_s
            gap = now - lane.last_dep_s
            if gap < 2.5 * mv.headway_s and lane.run_k >= 0:
                lane.run_k += 1
                lane.run_slots += lane.last_space
            else:
                lane.run_k = 0
                lane.run_slots = 0.0
            v.queue_pos = -1 - int(lane.run_slots + 1e-9)  # start position in car slots (a car: run_k)
        else:
            lane.run_k = -1
            v.queue_pos = 0
        lane.last_space = lane.kinds.space[v.kind]
        lane.last_dep_s = now
        lane.last_dep_move = mv
        if self.departures is not None:
            self.departures.append((now, lane.link.id, lane.index))
        stats = mv.lane_stats.get(lane.index)
        if stats is not None:
            stats[0] += 1
            stats[2] += v.pcu
        if into_slot:
            v.stop_arrival_s = now  # waiting inside the junction starts now (teleport clock, slot delay)
        lane.occupancy -= 1
        lane.used = lane.used - lane.kinds.space[v.kind] if lane.occupancy else 0.0
        if lane.space_waiters:
            self._wake_waiter(lane)
        if self.detectors is not None:
            self.detectors.count(mv, v, lane)
        v.group = stats

    def discharge(self, lane: LaneServer, v: Vehicle, mv: MoveState, now: float, target: LaneServer | None) -> None:
        """The head vehicle crosses the stop line and drives through the junction onto ``target``'s link."""
        self.leave_lane(lane, v, mv, now, into_slot=False)
        self.cross(v, mv, now, target)

    def cross(self, v: Vehicle, mv: MoveState, now: float, lane: LaneServer | None) -> None:
        """The vehicle drives through the junction onto its next link."""
        if v.queue_pos < 0:  # self._internal_time(v, mv, True, -1 - v.queue_pos), inlined
            sf = v.sf
            vmax = v.max_speed_m_s
            v_in = min(mv.from_link.speed_m_s * sf, vmax)
            v_t = min(mv.internal_speed_m_s * sf, v_in)
            v_out = min(mv.to_link.speed_m_s * sf, vmax)
            t_int = mv.internal_length_m / (v_t * self._dawdle) if mv.internal_length_m > 0 else 0.0
            k = -1 - v.queue_pos
            v_k = self._queue_speed_m_s[k] if k < 64 else math.inf
            v_c = v_t if v_t < v_k else v_k
            t_int = t_int + (v_out - v_c) ** 2 / (self._two_accel * v_out)
        else:
            t_int = v.int_ff_s
        if mv.internal_length_m > 0:
            if v.max_speed_m_s >= mv.fast_vmax:
                v.ideal_s += mv.ideal_a / v.sf
            else:
                vmax = min(mv.internal_speed_m_s * v.sf, mv.from_link.speed_m_s * v.sf, v.max_speed_m_s)
                v.ideal_s += mv.internal_length_m / vmax
        stats, v.group = v.group, None
        if stats is not None:
            delay = (now + t_int - v.seg_entry_s) - v.seg_ff_s
            stats[1] += delay
            if delay > stats[3]:
                stats[3] = delay
        v.leg += 1
        if lane is not None and t_int > 0.0:  # on the lane itself only once through the junction
            entering = lane.entering_at  # LaneServer.entering, inlined: once per crossing
            while entering and entering[0][0] <= now:
                entering.popleft()
            entering.append((now + t_int, lane.kinds.space[v.kind]))
        self.enter_link(v, mv.to_link, now + t_int, lane)

    def _wake_waiter(self, lane: LaneServer) -> None:
        """A place was freed in ``lane``: wake the vehicle that has waited longest for it."""
        waiters = lane.space_waiters
        while waiters:
            k = min(range(len(waiters)), key=lambda i: waiters[i][0])
            ev = waiters.pop(k)[1]
            if not ev.triggered:
                ev.succeed()
                break

    def room_ahead(self, v: Vehicle, from_lane: int | None):
        """Generator: the lane ``v`` enters next (``None`` on its last link) if it has room now.

        Otherwise waits until room frees and returns ``False`` (the caller decides again: its
        signal may have changed meanwhile), or, blocked longer than ``teleport_s``, forces the
        vehicle ahead as SUMO's teleport does.
        """
        target = self.next_lane(v, from_lane=from_lane)
        if target is not False:
            return target
        yield from self.wait_for_space(v, from_lane=from_lane)
        if self.teleport_due(v, self.env.now):
            return self.next_lane(v, force=True, from_lane=from_lane)
        return False

    def wait_for_space(self, v: Vehicle, *, first: bool = False, teleport: bool = True,
                       from_lane: int | None = None):
        """Wait until a lane ``v`` may enter next has room; vehicles blocked at a stop line are also
        released by the teleport watchdog once blocked ``teleport_s``. While it waits, ``v`` does
        not claim its right of way over yielding movements (``blocked_until``)."""
        ev = self.env.event()
        since = v.depart_sched_s if first else v.stop_arrival_s
        for lane in self.candidate_lanes(v, from_lane, first):
            lane.space_waiters.append((since, ev))
        if teleport and self.params.teleport_s > 0:
            self._blocked[ev] = v
            if self._watchdog is None:
                self._watchdog = self.env.process(self._teleport_watchdog())
        self._waiting_room.add(v.vid)
        yield ev
        self._waiting_room.discard(v.vid)
        self._blocked.pop(ev, None)

    def _teleport_watchdog(self, every_s: float = 10.0):
        """Wake vehicles that have waited for room longer than ``teleport_s`` (checked every 10 s, so a
        teleport happens up to 10 s after SUMO's would); one process instead of a timer per wait."""
        limit = self.params.teleport_s
        while self._blocked:
            yield self.env.timeout(every_s)
            now = self.env.now
            for ev, v in list(self._blocked.items()):
                if now - v.stop_arrival_s >= limit and not ev.triggered:
                    del self._blocked[ev]
                    ev.succeed()
        self._watchdog = None

    def teleport_due(self, v: Vehicle, now: float) -> bool:
        if self.params.teleport_s > 0 and now - v.stop_arrival_s >= self.params.teleport_s:
            self.teleports += 1
            return True
        return False

    def blocked_until(self, mv: MoveState, now: float) -> float:
        """When a yielding movement may go next, given its priority streams (``now`` if free)."""
        p = self.params
        until = now
        for pm in mv.priority:
            timer = pm.timer
            if timer is not None and timer.next_go(pm.id, now)[0] > now:
                continue  # the priority stream is stopped
            for lane in pm.lanes:
                if lane.last_dep_move is pm and lane.last_dep_s + p.follow_up_s > until:
                    until = lane.last_dep_s + p.follow_up_s
                if lane.queue:
                    head = lane.queue[0]
                    if head.moves[head.leg] is pm and head.stop_arrival_s < now + p.critical_gap_s \
                            and head.vid not in self._waiting_room:
                        t_head = max(head.stop_arrival_s, lane.last_dep_s + pm.headway_s, now + 0.5)
                        if t_head + p.follow_up_s > until:
                            until = t_head + p.follow_up_s
        return until

    def _finish(self, v: Vehicle, link: LinkState) -> None:
        now = self.env.now
        link.occupancy -= 1
        del self.on_last_link[v.vid]
        log = self.log
        travel = now - v.depart_s
        log.flow.append(v.flow)
        log.route.append(v.route)
        log.arrival_s.append(now)
        log.travel_time_s.append(travel)
        log.time_loss_s.append(travel - v.ideal_s)
        log.waiting_s.append(v.wait_s)
        log.stops.append(v.stops)
        log.depart_delay_s.append(v.depart_s - v.depart_sched_s)
        self.finished += 1
        if self.finished == self.total and not self._done.triggered:
            self._done.succeed()

    # --- control -------------------------------------------------------------------------------

    def request_plan(self, intersection: str, plan: SignalPlan | list[SignalPlan]) -> float:
        """Switch an intersection to ``plan`` at the end of its current cycle (after validation).

        A list runs its plans in turn, one cycle each, the last one until the next request.
        Raises ``PlanValidationError`` (and changes nothing) if any plan is unsafe.
        """
        inter = self.scenario.intersections.get(intersection)
        if inter is None:
            raise ModelError(f"unknown intersection {intersection!r}")
        sequence = [plan] if isinstance(plan, SignalPlan) else list(plan)
        if not sequence:
            raise ModelError(f"empty plan sequence for {intersection!r}")
        for p in sequence:
            if self.rules is None:
                issues = conflict_issues(p, inter)
                if issues:
                    raise PlanValidationError(issues)
            else:
                check_plan(p, inter, self.rules)
        if not isinstance(self.timers[intersection], SignalTimer) and not self._follows_plans:  # a StageTimer
            raise ModelError(f"{intersection!r} is under stage control: it runs no plan")
        switch_at = self.plan_clocks[intersection].request(sequence, self.env.now)
        self._schedule_commit(intersection, sequence[0], switch_at)
        return switch_at

    def _schedule_commit(self, intersection: str, plan: SignalPlan, switch_at: float) -> None:
        ev = self.env.timeout(switch_at - self.env.now)
        ev.callbacks.append(lambda _e: self._commit(intersection, plan, switch_at))

    def _commit(self, intersection: str, plan: SignalPlan, switch_at: float) -> None:
        timer = self.plan_clocks[intersection]
        if timer.pending_plan is not plan or timer.switch_at_s != switch_at:
            return  # replaced by a later request
        following = timer.commit()
        self.plan_changes.append((self.env.now, intersection, plan.name))
        if following < math.inf:
            self._schedule_commit(intersection, timer.pending_plan, following)
        if self.timers[intersection] is timer:
            self.signal_changed(intersection)

    def signal_changed(self, intersection: str) -> None:
        """Wake the lanes sleeping on this intersection's signal: what it shows has changed."""
        for lane in self.lanes_of_intersection[intersection]:
            if lane.sleeping_until > self.env.now and lane.proc.is_alive and lane.proc.target is not None:
                lane.proc.interrupt("signal change")

    def signal_states(self) -> dict[str, SignalState]:
        """Each signal's plan in force and the end of its current cycle (for controllers)."""
        now = self.env.now
        return {iid: SignalState(iid, t.plan, t.cycle_end_after(now), t.pending_plan is not None)
                for iid, t in self.plan_clocks.items() if self._follows_plans or self.timers[iid] is t}

    # --- running -------------------------------------------------------------------------------

    def _report_progress(self, progress: Callable[[float], None], every_s: float = 60.0):
        while True:
            yield self.env.timeout(every_s)
            progress(self.env.now)

    def run(self) -> Simulation:
        env = self.env
        self._done = env.event()
        if self.total == 0:
            self._done.succeed()
        stop = env.timeout(self.horizon_s - env.now)
        run_until(env, self._done | stop)
        self.end_s = env.now
        return self

    def in_network(self) -> int:
        return self.inserted - self.finished

    def group_stats(self) -> dict[str, tuple[int, float, float]]:
        """Lane group -> (vehicles discharged, summed control delay s, summed PCU)."""
        return {k: (int(v[0]), v[1], v[2]) for k, v in self._group_stats.items()}

    def group_max_delay_s(self) -> dict[str, float]:
        """Lane group -> the longest control delay of one vehicle discharged from it (the longest wait)."""
        return {k: v[3] for k, v in self._group_stats.items()}
