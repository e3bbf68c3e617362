"""The contracts between controllers and whatever runs the signals (simulator, SUMO, the live API).

Every decision interval, the runner calls ``Controller.decide`` with the interval counts of each
intersection and the state of its signals; the controller answers, per intersection, a sequence of
plans: all but the last run for exactly one cycle each (transition cycles), the last runs until
the next decision. The sequence starts at the end of the cycle in progress.

Stage controllers (``StageController``) run no cycle: every control step they choose the stage
each intersection shows next, from detector observations (see ``traffic.stages``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from traffic.counts import IntervalCounts
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True, slots=True)
class SignalState:
    """What a controller may know about a signal: the plan running and when its cycle ends."""

    intersection: str
    plan: SignalPlan
    cycle_end_s: float
    pending: bool = False
    """True while a previously requested plan sequence has not finished starting."""


class Controller(Protocol):
    """Turns measured counts into plan sequences (see the module docstring)."""

    def decide(self, now_s: float, counts: Mapping[str, IntervalCounts],
               signals: Mapping[str, SignalState]) -> Mapping[str, Sequence[SignalPlan]]: ...


@dataclass(frozen=True, slots=True)
class StageObservation:
    """What a stage controller sees of one intersection at a control step (see ``traffic.stages``).

    Vehicle figures come from the approach detectors (cameras or loops covering the last stretch of
    each approach lane, and the first stretch of each exit lane); a lane that serves several
    movements shares its vehicles equally among them.
    """

    intersection: str
    stage: int
    """The stage green now, or the one being cleared to."""
    green_s: float
    """Seconds the stage has been green (0 while clearing)."""
    can_switch: bool
    """True when a request for another stage takes effect now (green, minimum green served)."""
    queue_veh: Mapping[str, float]
    """Per movement: halting vehicles on its approach lanes."""
    moving_veh: Mapping[str, float]
    """Per movement: vehicles on its approach lanes' detected stretch that are not halting."""
    exit_veh_per_lane: Mapping[str, float]
    """Per movement: vehicles per lane on the detected stretch of its exit link."""
    storage_veh: Mapping[str, float] = field(default_factory=dict)
    """Per movement: vehicles its approach's detected stretch holds when jammed (its share of it)."""
    exit_storage_veh_per_lane: Mapping[str, float] = field(default_factory=dict)
    """Per movement: vehicles per lane the detected stretch of its exit link holds when jammed."""
    approaching_veh: Mapping[str, float] = field(default_factory=dict)
    """Per movement: vehicles, halting or not, on the *advance* stretch of its approach lanes (the
    controller's ``advance_range_m`` upstream of the stop line: what arrives within the next seconds);
    empty unless the controller asks for it."""


class StageController(Protocol):
    """Chooses, every control step, the stage each intersection should show next.

    Answering the current stage (or leaving an intersection out) holds it; the signal heads run
    the clearance and refuse any switch before the minimum green. A controller with an attribute
    ``advance_range_m`` (a float, not None) also gets ``StageObservation.approaching_veh`` from a
    second set of detectors over that stretch.
    """

    def choose(self, now_s: float, observations: Mapping[str, StageObservation]) -> Mapping[str, int]: ...


PlanClock = Callable[[str], tuple[SignalPlan, float]]
"""Per intersection id: the plan in force and when its current run of cycles began (its phase 0
starts at that time plus whole cycles)."""


class PlanFollowingStageController(StageController, Protocol):
    """A stage controller that times its stages around the plan in force (coordinated-actuated
    control): the runner sets ``follows_plans`` apart from plain stage control and, before the first
    step, tells it through ``attach`` where to read each signal's plan (which a plan ``Controller``
    may change meanwhile)."""

    follows_plans: bool

    def attach(self, plan_clock: PlanClock) -> None: ...
