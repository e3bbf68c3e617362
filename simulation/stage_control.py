"""Stage control inside Greenwave's simulator: the signal heads, their answers to the lanes, the detectors.

``StageTimer`` stands where a ``SignalTimer`` stands for a fixed plan: lanes ask it ``next_go``.
Under stage control the future is not known, so it answers with what is certain: a green movement
may go until the earliest moment its green could end (the next control step, and never before
the minimum green), a movement being cleared into gets its green at the end of the clearance, and
any other is red until further notice. Every change of what the head shows interrupts the lanes
that sleep on it, which then ask again (as a plan change does). Vehicles do not enter on yellow
(the calibrated ``yellow_go_s`` is 0; a positive one is ignored here).

``read_lane`` gives what Greenwave's detectors (``simulation.detector_layout``, the same layout as
in SUMO) see of the simulator's lanes: vehicles standing at the stop line fill the lane from it
backwards, vehicles still driving are as far from it as their remaining free-flow time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulation.detector_layout import LaneDetector, advance_layout, detector_layout, observations
from traffic.control import StageController, StageObservation
from traffic.errors import ModelError
from traffic.network import JAM_SPACING_M
from traffic.signal_plan import Interval
from traffic.stages import StageSet, StageSignal

if TYPE_CHECKING:
    from simulation.engine import Simulation


class StageTimer:
    """One signal under stage control, queried by the lanes like ``SignalTimer.next_go``."""

    __slots__ = ("_green", "_green_since", "_permissive", "head", "locked_until_s", "startup_s")

    def __init__(self, head: StageSignal, startup_s: float, now_s: float) -> None:
        self.head = head
        self.startup_s = startup_s
        self.locked_until_s = now_s
        self._green_since: dict[str, float] = {}
        self._green: frozenset[str] = frozenset()
        self._permissive: frozenset[str] = frozenset()
        self.refresh(now_s)

    def refresh(self, now_s: float) -> None:
        """Take note of what the head shows now (call after every change)."""
        head = self.head
        stage = head.stages.stages[head.stage]
        if head.settled:
            green = stage.green_movements
        else:  # clearing: only the movements green in both stages keep their green
            assert head.target is not None  # a head that is not settled is clearing to its target
            green = stage.green_movements & head.stages.stages[head.target].green_movements
        self._green_since = {m: self._green_since.get(m, now_s) for m in green}
        self._green = green
        self._permissive = stage.permissive
        if head.settled:
            self.locked_until_s = max(self.locked_until_s, head.green_start_s + head.stages.min_green_of(head.stage))
        else:
            self.locked_until_s = head.interval_end_s

    def lock_until(self, t_s: float) -> None:
        """No switch can start before ``t_s`` (the next control step)."""
        if self.head.settled:
            self.locked_until_s = max(t_s, self.head.green_start_s + self.head.stages.min_green_of(self.head.stage))

    def next_go(self, movement: str, t_s: float) -> tuple[float, float, bool, bool]:
        """``(t_go, go_end, permissive, waited)`` as ``SignalTimer.next_go``, from what is certain now."""
        if movement in self._green:
            if t_s >= self.locked_until_s:
                return t_s, t_s, False, False  # beyond what is known: ask again then
            since = self._green_since[movement]
            permissive = movement in self._permissive
            if t_s < since + self.startup_s:  # the queue stood at red: start-up loss
                return since, self.locked_until_s, permissive, True
            return t_s, self.locked_until_s, permissive, False
        head = self.head
        target = head.target
        if not head.settled and target is not None and movement in head.stages.stages[target].green_movements:
            at = head.interval_end_s
            if head.interval is Interval.YELLOW:
                at += head.stages.clearance(head.stage, target).all_red_s
            return max(at, t_s), max(at, t_s) + head.stages.min_green_of(target), \
                movement in head.stages.stages[target].permissive, True
        return math.inf, math.inf, False, True


def read_lane(sim: Simulation, det: LaneDetector, now_s: float) -> tuple[float, float]:
    """(halting, all) vehicles of the simulator on a detector's stretch.

    Vehicles standing at the stop line fill the lane from it backwards, one per 7.5 m; a vehicle
    still driving is as far from the stop line as its remaining free-flow time at the link's speed
    (never inside the standing queue). A lane without a stop line (a route's last link) spreads its
    vehicles evenly.
    """
    link_id, _, index = det.lane.rpartition("_")
    state = sim.links[link_id]
    lane = sim.scenario.network.links[link_id].lanes[int(index)]
    near_m = lane.length_m - det.start_m - det.length_m  # the stretch, as distances from the stop line
    far_m = lane.length_m - det.start_m
    server = next((s for s in state.lanes if s.index == lane.index), None)
    if server is None:
        spread = state.occupancy / len(sim.scenario.network.links[link_id].lanes)
        return 0.0, spread * det.length_m / lane.length_m
    halting = total = 0
    k = 0
    for v in server.queue:
        if v.stop_arrival_s <= now_s:
            d = k * JAM_SPACING_M
            k += 1
            if near_m <= d < far_m:
                halting += 1
                total += 1
        else:
            d = max(k * JAM_SPACING_M, (v.stop_arrival_s - now_s) * lane.speed_m_s)
            if d >= far_m:
                break
            if d >= near_m:
                total += 1
    return float(halting), float(total)


@dataclass(frozen=True)
class StageControlSpec:
    """What runs the signals under stage control: the controller, the stages of the signals it runs
    (the others keep their plans), its control step and the detectors' range."""

    controller: StageController
    stage_sets: Mapping[str, StageSet]
    control_step_s: float = 5.0
    detector_range_m: float = 100.0

    @property
    def follows_plans(self) -> bool:
        """True for a controller that times its stages around the plans in force
        (``traffic.control.PlanFollowingStageController``: coordinated-actuated control)."""
        return bool(getattr(self.controller, "follows_plans", False))

    def __post_init__(self) -> None:
        if not self.stage_sets:
            raise ModelError("stage control needs the stage set of at least one signal")
        if not (self.control_step_s > 0 and self.detector_range_m > 0):
            raise ModelError("control_step_s and detector_range_m must be > 0")


class StageControl:
    """Runs a ``StageController`` in a simulation: heads, decisions every ``control_step_s``, clearances."""

    def __init__(self, sim: Simulation, spec: StageControlSpec) -> None:
        unknown = set(spec.stage_sets) - set(sim.scenario.intersections)
        if unknown:
            raise ModelError(f"stage control names unknown intersections {sorted(unknown)}")
        self.sim = sim
        self.controller = spec.controller
        self.follows_plans = spec.follows_plans
        self.stage_sets = dict(spec.stage_sets)
        self.control_step_s = spec.control_step_s
        stage_sets = self.stage_sets
        now = sim.env.now
        self.heads = {iid: StageSignal(ss, 0, now) for iid, ss in stage_sets.items()}
        self.timers = {iid: StageTimer(h, sim.params.startup_s, now) for iid, h in self.heads.items()}
        self.switches = 0
        self.greens: list[tuple[float, str, int]] = []
        """Every green start: (time_s, signal, stage)."""
        self.layout = detector_layout(sim.scenario, list(stage_sets), spec.detector_range_m)
        self.advance = advance_layout(sim.scenario, list(stage_sets), spec.controller)

    def start(self) -> None:
        if self.follows_plans:
            clocks = self.sim.plan_clocks
            self.controller.attach(lambda iid: (clocks[iid].plan, clocks[iid].anchor_s))  # type: ignore[attr-defined]
        self.sim.env.process(self._run())

    def observe(self, now_s: float) -> dict[str, StageObservation]:
        cache: dict[str, tuple[float, float]] = {}

        def read(det: LaneDetector) -> tuple[float, float]:
            if det.id not in cache:
                cache[det.id] = read_lane(self.sim, det, now_s)
            return cache[det.id]

        return observations(self.layout, self.sim.scenario, self.heads, now_s, read, self.advance)

    def _run(self):
        env = self.sim.env
        while True:
            now = env.now
            choice = self.controller.choose(now, self.observe(now))
            for iid, stage in choice.items():
                head = self.heads[iid]
                if head.request(int(stage), now):
                    self.switches += 1
                    self._changed(iid, now)
                    if not head.settled:
                        env.process(self._clear(iid))
            for timer in self.timers.values():
                timer.lock_until(now + self.control_step_s)
            yield env.timeout(self.control_step_s)

    def _clear(self, iid: str):
        head = self.heads[iid]
        env = self.sim.env
        while not head.settled:
            yield env.timeout(max(0.0, head.interval_end_s - env.now))
            if head.advance(env.now):
                self._changed(iid, env.now)

    def _changed(self, iid: str, now_s: float) -> None:
        if self.heads[iid].settled:
            self.greens.append((now_s, iid, self.heads[iid].stage))
        self.timers[iid].refresh(now_s)
        self.sim.signal_changed(iid)
