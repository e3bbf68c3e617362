"""Coordinated-actuated control: a plan's cycle and offsets, with actuated non-coordinated stages.

What field controllers (NEMA/SCATS-class) do around a coordinated plan. Each signal keeps its
plan's cycle and offset, so the green wave stays where the optimiser put it; within the cycle:

- the **coordinated stage** (the stage with the plan's longest green: the arterial's through
  movements) is not left before its *yield point*: its planned end, brought forward by
  ``yield_advance_s`` when the next stage is called (the non-coordinated greens act as maximum
  greens, sized for the busier cycles); past it, it still holds while the tail of a platoon is
  arriving (more than ``platoon_veh`` of its vehicles moving on its detectors), as long as the
  called stage keeps room for its minimum green;
- from the yield point, each **non-coordinated stage** of the plan is served in program order,
  but only when *called* (its own movements have vehicles on their detectors), and it ends at its
  planned end (the *force-off*) or earlier when its queue has gone (*gap-out*); it is served at
  most once a cycle, and not started when it could not get its minimum green before its force-off;
- what the non-coordinated stages leave unused goes back to the coordinated stage (*early return
  to green*); with no call at all, the coordinated stage dwells;
- *service between platoons*: while the coordinated stage is green, past its minimum green, and the
  arterial's advance detectors (``free_range_m`` upstream of the stop line: the next seconds of
  arrivals) see none of its vehicles, a called non-coordinated stage is served at once, outside its
  window; such a green, and any non-coordinated green past its force-off, goes on while it is called
  and the arterial's advance stretch stays empty, up to ``free_max_green_s``. Adaptive systems
  of the InSync kind work the same way: green "tunnels" for the platoons, the side streets served in
  the gaps between them;
- a signal whose detectors have failed runs on *recall*: every stage to its force-off, the plan as
  fixed time.

The coordinated stage therefore starts no later than planned unless nothing is arriving on it,
and the green wave set by the offsets holds; the signal heads (``traffic.stages.StageSignal``) run
the program's own stages and clearances and keep every minimum green. Positions in the cycle come
from the plan in force (``(t - start of its phase 0) mod cycle``: SUMO's offset semantics for a
plan that has run from the start), so a plan ``Controller`` (the adaptive one) may change plans
underneath: this layer is its tactical part, as in SCATS. The decision for one signal is
``actuated_choice`` (then ``between_platoons``) on plain numbers; the controller keeps the plan
geometry per signal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from traffic.checks import require
from traffic.control import PlanClock, StageObservation
from traffic.errors import ModelError
from traffic.pedestrians import may_walk
from traffic.signal_plan import Phase, SignalPlan
from traffic.stages import StageSet

CONTROL_STEP_S = 1.0
"""Seconds between decisions: actuation works second by second, as field controllers (and SUMO) step."""
DETECTOR_RANGE_M = 80.0
"""Detected stretch upstream of each stop line: a call or a vehicle still arriving (about 6 s at 50 km/h)."""


@dataclass(frozen=True, slots=True)
class ActuatedParams:
    """Settings of the actuated stages (vehicles as seen by the approach detectors)."""

    call_veh: float = 0.5
    """A non-coordinated stage is called when its own movements hold more than this many vehicles."""
    gap_veh: float = 0.5
    """A green non-coordinated stage gaps out when its own movements hold no more than this."""
    yield_advance_s: float = 3.0
    """A stage that follows the coordinated one may start up to this much before its planned start
    (the coordinated stage yields early to a call; it keeps its minimum green): the plan's greens of
    the non-coordinated stages become maximum greens, sized for the busier cycles, since what a
    quiet cycle leaves unused goes back to the coordinated stage."""
    platoon_veh: float | None = 2.0
    """The coordinated stage holds past its yield point while more than this many of its vehicles are
    still moving toward the stop line on its detectors (the tail of a platoon), as long as the called
    stage keeps room for its minimum green before its force-off; None: yield on the call."""
    late_start_s: float = 1.0
    """A called stage may still start this long after the last moment that leaves it its minimum green
    before its force-off (then ending as much late): decisions come once per control step, so a
    window whose minimum green exactly fills it would otherwise be missed between two steps."""
    free_range_m: float | None = 110.0
    """Advance detectors on the arterial: while this stretch upstream of the stop line holds no more
    than ``free_arterial_veh`` of the coordinated stage's vehicles (nothing arrives for about
    ``free_range_m`` / speed: 8 s at 50 km/h), a called stage is served between the platoons;
    None: never (no advance detectors)."""
    free_arterial_veh: float = 0.5
    """The most vehicles on the arterial's advance stretch that still count as a gap between platoons."""
    free_max_green_s: float = 10.0
    """Longest green of a service between platoons (and of a green held past its force-off)."""
    pedestrian_recall: bool = True
    """Pedestrians are assumed at every crossing every cycle (no push buttons are modelled): a
    non-coordinated stage in which a crossing walks that does not walk in the coordinated stage is
    called in its window every cycle, vehicles or not, so no crossing waits more than a cycle. False:
    such a stage is served only on a vehicle call (push-button crossings nobody pressed)."""

    def __post_init__(self) -> None:
        require(self, ("call_veh", "gap_veh", "yield_advance_s", "late_start_s", "free_arterial_veh",
                       "free_max_green_s"), strict=False, what="actuated parameter")
        if self.platoon_veh is not None and not self.platoon_veh >= 0:
            raise ModelError(f"actuated parameter platoon_veh (={self.platoon_veh}) must be >= 0 or None")
        if self.free_range_m is not None and not self.free_range_m > 0:
            raise ModelError(f"actuated parameter free_range_m (={self.free_range_m}) must be > 0 or None")


@dataclass(frozen=True)
class CoordinatedTiming:
    """One signal's plan as stage windows in the cycle (seconds from the start of phase 0).

    ``windows`` rows: (stage, green start, force-off = planned green end), in program order, for the
    non-coordinated stages; ``clearance_s``: yellow + all-red between stages; ``start_s``: where cycle
    positions start counting (seconds from the start of phase 0, window times counted from there too):
    the yield point of the first window after the coordinated stage, so that the windows follow in
    program order within one cycle and the coordinated stage ends it;
    ``min_green_s``: per stage, the green it runs once started (``StageSet.min_green_of``: a stage in
    which a pedestrian crossing may walk runs at least its walk + clearance, so a window opens for
    it only while that fits before its force-off).
    """

    cycle_s: float
    coordinated: int
    windows: np.ndarray
    clearance_s: float
    min_green_s: np.ndarray
    own: tuple[tuple[str, ...], ...]
    """Per stage, the movements green in it and not in the coordinated stage."""
    coordinated_movements: tuple[str, ...]
    start_s: float
    pedestrian_call: np.ndarray
    """Per stage, True where a crossing walks that does not walk in the coordinated stage."""

    @classmethod
    def of(cls, plan: SignalPlan, stages: StageSet, yield_advance_s: float = 0.0) -> CoordinatedTiming:
        """The windows of ``plan``; a window right after the coordinated stage opens up to
        ``yield_advance_s`` early, never before the coordinated stage's minimum green.

        Raises ``ModelError`` when a green phase of ``plan`` is not one of ``stages``.
        """
        index = {(s.protected, s.permissive): k for k, s in enumerate(stages.stages)}
        green = np.zeros(len(stages.stages))
        rows: list[tuple[int, float, float]] = []
        t = 0.0
        for phase in plan.phases:
            if phase.green_movements:
                key = (phase.protected, phase.permissive)
                if key not in index:
                    raise ModelError(f"{plan.intersection!r}: phase {phase.name!r} is not a stage of the signal")
                k = index[key]
                green[k] += phase.green_s
                rows.append((k, t, t + phase.green_s))
            t += phase.green_s + phase.yellow_s + phase.all_red_s
        coordinated = int(np.argmax(green))
        coord_moves = stages.stages[coordinated].green_movements
        own = tuple(tuple(sorted(s.green_movements - coord_moves)) for s in stages.stages)
        kept = []
        for i, (k, start, end) in enumerate(rows):
            if k == coordinated:
                continue
            before = rows[i - 1]  # the phase before (the last one, for phase 0)
            if before[0] == coordinated and yield_advance_s > 0:
                wrap = plan.cycle_s if i == 0 else 0.0
                earliest = before[1] - wrap + stages.min_green_of(coordinated) + (start - (before[2] - wrap))
                start = max(start - yield_advance_s, min(start, earliest))
            kept.append((k, start, end))
        clearance = stages.yellow_s + stages.all_red_s
        # count cycle positions from the yield point of the first window after the coordinated stage, so
        # that the windows lie in program order within one cycle and the coordinated stage closes it: a
        # window whose plan time wraps past the end of the program (the coordinated stage not the plan's
        # first phase) then follows the one before it, and the stage after an early gap-out is not skipped
        last_coordinated = max(i for i, row in enumerate(rows) if row[0] == coordinated)
        after = sum(1 for row in rows[:last_coordinated + 1] if row[0] != coordinated)
        kept = kept[after:] + kept[:after]
        start = kept[0][1] - clearance if kept else 0.0
        kept = [(k, s, e) if s >= start - 1e-9 else (k, s + plan.cycle_s, e + plan.cycle_s) for k, s, e in kept]
        windows = np.array(kept, float).reshape(-1, 3)
        mins = np.array([stages.min_green_of(k) for k in range(len(stages.stages))], float)
        walks = [walking_crossings(s.protected, s.permissive, stages) for s in stages.stages]
        pedestrian = np.array([bool(w - walks[coordinated]) for w in walks], bool)
        return cls(plan.cycle_s, coordinated, windows, clearance, mins, own,
                   tuple(sorted(coord_moves)), start, pedestrian)


def walking_crossings(protected: frozenset[str], permissive: frozenset[str], stages: StageSet) -> frozenset[str]:
    """Ids of the crossings of ``stages``' intersection that may walk while these movements are green."""
    phase = Phase("", 0.0, 0.0, 0.0, protected, permissive)
    return frozenset(c.id for c in stages.intersection.crossings if may_walk(phase, c, stages.intersection))


def actuated_choice(position_s: float, current: int, coordinated: int, windows: np.ndarray, served: np.ndarray,
                    demand: np.ndarray, clearance_s: float, min_green_s: float | np.ndarray, call_veh: float,
                    gap_veh: float, late_start_s: float = 0.0, platoon_veh: float = np.inf,
                    coordinated_moving: float = 0.0, pedestrian_call: np.ndarray | None = None) -> tuple[int, int]:
    """``(stage, window)``: the stage to show next at ``position_s`` in the cycle (``current`` to
    hold) and, when that starts a non-coordinated window, its row in ``windows`` (else -1).

    ``windows``: rows (stage, green start, force-off) of the non-coordinated stages; ``served``:
    per window, True once it was served this cycle (never twice); ``demand``: vehicles on each
    stage's own movements (``inf``: on recall, as with failed detectors); ``coordinated_moving``:
    vehicles moving toward the coordinated stage's stop lines, which hold it past its yield point
    while above ``platoon_veh`` and the called window keeps room for a step more; ``min_green_s``:
    one minimum green for every stage, or one per stage; ``pedestrian_call``: per stage, True where
    pedestrians call it (it is then called whatever its vehicles).
    """
    n = windows.shape[0]
    after = 0
    if current != coordinated:
        k = next((i for i in range(n) if int(windows[i, 0]) == current
                  and windows[i, 1] - clearance_s - 1e-9 <= position_s < windows[i, 2]), -1)
        if k >= 0 and demand[current] > gap_veh:
            return current, -1  # called and within its window: keep serving
        after = k + 1 if k >= 0 else 0
    # the first later window whose stage is called and can still get its minimum green
    for i in range(after, n):
        stage, start, force_off = int(windows[i, 0]), windows[i, 1], windows[i, 2]
        min_g = float(min_green_s[stage]) if isinstance(min_green_s, np.ndarray) and min_green_s.ndim \
            else float(min_green_s)
        if position_s < start - clearance_s - 1e-9:
            min_coord = float(min_green_s[coordinated]) if isinstance(min_green_s, np.ndarray) \
                and min_green_s.ndim else float(min_green_s)
            if current == coordinated or start - clearance_s - position_s >= clearance_s + min_coord:
                break  # before this window's yield point: the coordinated stage (or the current) holds
            # a non-coordinated stage ended early and the coordinated one could not get its minimum
            # green before this window: start the window now rather than skip it (the old early return
            # to the coordinated stage pushed this window past its last start: starved every cycle)
        room = position_s + clearance_s + min_g <= force_off + late_start_s + 1e-9
        called = demand[stage] > call_veh or (pedestrian_call is not None and pedestrian_call[stage])
        if not served[i] and stage != current and called and room:
            platoon = current == coordinated and coordinated_moving > platoon_veh
            if platoon and position_s + late_start_s + clearance_s + min_g <= force_off + 1e-9:
                return coordinated, -1  # the platoon's tail still arrives: yield at a later step
            return stage, i
    return coordinated, -1


def between_platoons(chosen: int, current: int, coordinated: int, green_s: float, demand: np.ndarray,
                     order: np.ndarray, arterial_veh: float, call_veh: float, gap_veh: float,
                     arterial_max_veh: float, max_green_s: float) -> int:
    """``chosen`` (``actuated_choice``'s stage), changed when the arterial is between platoons
    (``arterial_veh``, its vehicles on the advance stretch, at most ``arterial_max_veh``): the
    coordinated stage it would hold gives way to the first called stage in ``order``; a green
    non-coordinated stage it would end keeps its green while called, up to ``max_green_s``."""
    if arterial_veh > arterial_max_veh or chosen != coordinated:
        return chosen
    if current == coordinated:
        for stage in order:
            if demand[stage] > call_veh:
                return int(stage)
    elif demand[current] > gap_veh and green_s < max_green_s:
        return current
    return chosen


class CoordinatedActuatedController:
    """Coordinated-actuated control (``traffic.control.PlanFollowingStageController``).

    Follows the plan in force at each signal: in Greenwave's simulator the plan clock it is attached
    to (so a plan ``Controller``, the adaptive one, may change the plans meanwhile); elsewhere (SUMO
    in the loop) the fixed ``plans`` given here, with phase 0 starting at each plan's offset.
    """

    follows_plans = True

    def __init__(self, stage_sets: Mapping[str, StageSet], params: ActuatedParams | None = None,
                 plans: Mapping[str, SignalPlan] | None = None) -> None:
        self.params = params or ActuatedParams()
        self.stage_sets = dict(stage_sets)
        fixed = dict(plans or {})
        self._clock: PlanClock = lambda iid: (fixed[iid], fixed[iid].offset_s)
        self._timing: dict[tuple[str, bool], tuple[SignalPlan, CoordinatedTiming]] = {}
        self._served: dict[str, tuple[float, int, np.ndarray]] = {}
        self.recall: set[str] = set()
        """Signals whose detectors have failed: every stage runs to its force-off, as the plan (fixed time)."""

    @property
    def advance_range_m(self) -> float | None:
        """The arterial's advance detectors this controller asks for (``StageObservation.approaching_veh``)."""
        return self.params.free_range_m

    def attach(self, plan_clock: PlanClock) -> None:
        self._clock = plan_clock

    def set_recall(self, intersection: str, on: bool) -> None:
        """Detectors of ``intersection`` failed (``on``) or back: run its plan as fixed time meanwhile."""
        if on:
            self.recall.add(intersection)
        else:
            self.recall.discard(intersection)

    def timing(self, iid: str, plan: SignalPlan, recall: bool = False) -> CoordinatedTiming:
        """The windows of ``plan``, the plan in force at ``iid`` (rebuilt when the plan changes); on
        recall, the plan's own windows (no early yield)."""
        cached = self._timing.get((iid, recall))
        if cached is None or cached[0] is not plan:
            advance = 0.0 if recall else self.params.yield_advance_s
            cached = self._timing[(iid, recall)] = (plan, CoordinatedTiming.of(plan, self.stage_sets[iid], advance))
        return cached[1]

    def choose(self, now_s: float, observations: Mapping[str, StageObservation]) -> dict[str, int]:
        p = self.params
        out = {}
        for iid, obs in observations.items():
            if not obs.can_switch:
                continue
            recall = iid in self.recall
            plan, anchor_s = self._clock(iid)
            timing = self.timing(iid, plan, recall)
            moving = 0.0
            if recall:
                demand = np.full(len(timing.own), np.inf)
            else:
                demand = np.array([sum(obs.queue_veh[m] + obs.moving_veh[m] for m in moves) for moves in timing.own])
                moving = sum(obs.moving_veh[m] for m in timing.coordinated_movements)
            since_s = now_s - anchor_s
            cycle = math.floor((since_s - timing.start_s) / timing.cycle_s + 1e-9)
            position = since_s - cycle * timing.cycle_s  # in [start_s, start_s + cycle), exact at whole seconds
            served = self._served_in(iid, anchor_s, cycle, len(timing.windows))
            stage, window = actuated_choice(position, obs.stage, timing.coordinated, timing.windows, served,
                                            demand, timing.clearance_s, timing.min_green_s, p.call_veh, p.gap_veh,
                                            p.late_start_s, np.inf if p.platoon_veh is None else p.platoon_veh,
                                            moving, timing.pedestrian_call if p.pedestrian_recall else None)
            if window >= 0:
                served[window] = True
            elif not recall and p.free_range_m is not None and obs.approaching_veh:
                arterial = sum(obs.approaching_veh[m] for m in timing.coordinated_movements)
                stage = between_platoons(stage, obs.stage, timing.coordinated, obs.green_s, demand,
                                         timing.windows[:, 0].astype(int), arterial, p.call_veh, p.gap_veh,
                                         p.free_arterial_veh, p.free_max_green_s)
            out[iid] = stage
        return out

    def _served_in(self, iid: str, anchor_s: float, cycle: int, n: int) -> np.ndarray:
        """Which windows of this cycle were served (a fresh mask for a new cycle or plan)."""
        got = self._served.get(iid)
        if got is None or got[:2] != (anchor_s, cycle) or len(got[2]) != n:
            got = self._served[iid] = (anchor_s, cycle, np.zeros(n, bool))
        return got[2]

