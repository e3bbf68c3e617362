"""One closed-loop or fixed-plan run of a scenario, with the wrappers the demo and the benchmark share:
a safety audit of every plan a controller asks for, a camera outage (counts of one intersection
stop for a while) and a real camera's counts feeding one intersection instead of its simulated detector.

Like the CLI, this is wiring: it joins ``signal_control`` (the controller) and ``simulation`` (the
simulator); the controller itself never imports the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from signal_control.adaptive import AdaptiveController, AdaptiveParams, TimeOfDayPlan
from signal_control.coordinated_actuated import ActuatedParams
from simulation.engine import Simulation
from simulation.metrics import run_metrics
from simulation.stage_control import StageControlSpec
from traffic.control import Controller, SignalState, StageController
from traffic.counts import IntervalCounts
from traffic.errors import ModelError
from traffic.plan_validation import validate_plan
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan

SERIES_BIN_S = 900.0
"""Width of the delay-over-time bins (vehicles binned by departure time)."""


@dataclass
class SafetyAudit:
    """Wraps a controller: validates every plan of every sequence it returns, before the simulator
    sees it, and keeps the count of plans checked and the problems found (there must be none)."""

    inner: Controller
    scenario: Scenario
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    def decide(self, now_s: float, counts: Mapping[str, IntervalCounts],
               signals: Mapping[str, SignalState]) -> Mapping[str, Sequence[SignalPlan]]:
        out = self.inner.decide(now_s, counts, signals) or {}
        for iid, seq in out.items():
            for plan in ([seq] if isinstance(seq, SignalPlan) else seq):
                self.checked += 1
                self.problems += validate_plan(plan, self.scenario.intersections[iid])
        return out


@dataclass(frozen=True)
class CameraOutage:
    """The camera of ``intersection`` delivers nothing in ``[start_s, end_s)``."""

    intersection: str
    start_s: float
    end_s: float

    def filter(self, now_s: float, counts: Mapping[str, IntervalCounts]) -> dict[str, IntervalCounts]:
        """The counts the controller receives at ``now_s`` (the end of their interval)."""
        if self.start_s < now_s <= self.end_s:
            return {iid: c for iid, c in counts.items() if iid != self.intersection}
        return dict(counts)


@dataclass(frozen=True)
class CameraFeed:
    """A real camera's interval counts replace the simulated detector of ``intersection``.

    The k-th simulated interval receives the camera's interval ``k mod len(intervals)`` (a clip
    shorter than the run is replayed in a loop), re-timed to the simulated interval with its flows
    (veh/h) kept; the camera's health goes with it, so a bad feed sends the intersection to failsafe.
    """

    intersection: str
    intervals: tuple[IntervalCounts, ...]

    def __post_init__(self) -> None:
        if not self.intervals:
            raise ModelError(f"camera feed for {self.intersection!r}: no complete counting interval")

    def filter(self, now_s: float, counts: Mapping[str, IntervalCounts]) -> dict[str, IntervalCounts]:
        sim = counts.get(self.intersection)
        if sim is None:
            return dict(counts)
        cam = self.intervals[round(sim.start_s / sim.duration_s) % len(self.intervals)]
        scale = sim.duration_s / cam.duration_s
        scaled = {key: {cls: round(n * scale) for cls, n in by_class.items()} for key, by_class in cam.counts.items()}
        return {**counts, self.intersection: replace(cam, start_s=sim.start_s, duration_s=sim.duration_s,
                                                     counts=scaled, intersection=self.intersection)}


@dataclass
class _Filtered:
    """A controller whose counts pass through ``filters`` (outages, camera feeds) first."""

    inner: Controller
    filters: Sequence[CameraOutage | CameraFeed]

    def decide(self, now_s: float, counts: Mapping[str, IntervalCounts],
               signals: Mapping[str, SignalState]) -> Mapping[str, Sequence[SignalPlan]]:
        for f in self.filters:
            counts = f.filter(now_s, counts)
        return self.inner.decide(now_s, counts, signals)


@dataclass
class RunResult:
    """One run: ``metrics`` (the keys of ``greenwave simulate --json``), mean time loss per departure bin,
    and for the adaptive controller its events, final plans and safety audit."""

    kind: str
    seed: int
    metrics: dict[str, Any]
    series_time_loss_s: list[float]
    events: list[dict[str, Any]] = field(default_factory=list)
    final_plans: dict[str, SignalPlan] = field(default_factory=dict)
    plans_checked: int = 0
    unsafe: list[str] = field(default_factory=list)
    plan_changes: int = 0
    lane_groups: list[dict[str, Any]] = field(default_factory=list)
    """Per lane group: vehicles, flow and mean control delay (``greenwave simulate --json``'s rows)."""


def run_fixed(scenario: Scenario, kind: str, seed: int, duration_s: float | None = None,
              actuated: ActuatedParams | None = None) -> RunResult:
    """The scenario's active plans, unchanged, for one seed (with ``actuated``: run coordinated-actuated)."""
    spec = actuated_spec(scenario, actuated) if actuated is not None else None
    sim = Simulation(scenario, seed, duration_s=duration_s, stage_control=spec).run()
    return _result(kind, seed, sim, final_plans=scenario.active_plan_set())


def actuated_spec(scenario: Scenario, params: ActuatedParams,
                  outage: CameraOutage | None = None) -> StageControlSpec:
    """Coordinated-actuated operation of the plans in force at every signal of ``scenario`` (the
    stages of its active plans, every move validated); with ``outage``, that camera's signal runs
    on recall (its plan as fixed time) while its camera is out."""
    from signal_control.coordinated_actuated import CONTROL_STEP_S, DETECTOR_RANGE_M, CoordinatedActuatedController
    from traffic.stages import stage_sets

    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    controller: StageController = CoordinatedActuatedController(sets, params)
    if outage is not None:
        controller = _BlindDuring(controller, outage)
    return StageControlSpec(controller, sets, control_step_s=CONTROL_STEP_S, detector_range_m=DETECTOR_RANGE_M)


@dataclass
class _BlindDuring:
    """Coordinated-actuated control whose ``outage`` camera is out for a while: its signal on recall."""

    inner: Any
    outage: CameraOutage
    follows_plans = True

    @property
    def advance_range_m(self) -> float | None:
        return self.inner.advance_range_m

    def attach(self, plan_clock: Any) -> None:
        self.inner.attach(plan_clock)

    def choose(self, now_s: float, observations: Mapping[str, Any]) -> Mapping[str, int]:
        self.inner.set_recall(self.outage.intersection, self.outage.start_s <= now_s < self.outage.end_s)
        return self.inner.choose(now_s, observations)


def run_stage(scenario: Scenario, kind: str, seed: int, duration_s: float | None = None) -> RunResult:
    """Stage control on the stages of the scenario's active plans: ``kind`` a tactical controller of
    ``signal_control.registry`` that runs alone, ``max-pressure`` or ``adaptive-stage`` (or with underscores,
    as the benchmarks' keys); every stage and move validated before the run.

    Raises:
        UnknownControllerError: ``kind`` names no such controller.
    """
    from signal_control.registry import stage_controller_factory
    from simulation.stage_control import StageControlSpec
    from traffic.stages import stage_sets

    factory = stage_controller_factory(kind.replace("_", "-"))
    if factory is None:
        raise ModelError("run_stage runs a stage controller; for the plans as they are use run_fixed")
    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    controller = factory(sets)
    sim = Simulation(scenario, seed, duration_s=duration_s, stage_control=StageControlSpec(controller, sets)).run()
    return _result(kind, seed, sim, final_plans=scenario.active_plan_set())


def run_adaptive(scenario: Scenario, time_of_day: Sequence[TimeOfDayPlan], seed: int, params: AdaptiveParams,
                 *, duration_s: float | None = None, detector_interval_s: float = 300.0,
                 outage: CameraOutage | None = None, camera: CameraFeed | None = None,
                 kind: str = "adaptive", actuated: ActuatedParams | None = None) -> RunResult:
    """The adaptive controller in the loop with the simulator's detectors (one of them replaced by a
    real camera's counts with ``camera``), every plan audited; with ``actuated``, its plans run
    coordinated-actuated (presence from the simulated approach detectors; an ``outage`` also puts
    that signal on recall)."""
    ctl = AdaptiveController(scenario, time_of_day, params)
    filters = [f for f in (camera, outage) if f is not None]
    inner: Controller = _Filtered(ctl, filters) if filters else ctl
    audit = SafetyAudit(inner, scenario)
    spec = actuated_spec(scenario, actuated, outage) if actuated is not None else None
    sim = Simulation(scenario, seed, duration_s=duration_s, detector_interval_s=detector_interval_s,
                     controller=audit, stage_control=spec).run()
    events = [{"time_s": e.time_s, "intersection": e.intersection, "event": e.event, "reason": e.reason}
              for e in ctl.events]
    return _result(kind, seed, sim, events=events, final_plans=ctl.target_plans(), plans_checked=audit.checked,
                   unsafe=audit.problems, plan_changes=len(sim.plan_changes))


def _result(kind: str, seed: int, sim: Simulation, **fields: Any) -> RunResult:
    """One run's result: the metrics of ``greenwave simulate --json`` with the throughput figures, and its lane
    groups, from one pass over the finished run."""
    figures = run_metrics(sim)
    return RunResult(kind, seed, {**figures["metrics"], **throughput(sim)}, delay_series(sim),
                     lane_groups=figures["lane_groups"], **fields)


def throughput(sim: Simulation) -> dict[str, float]:
    """What the signals served and what was left waiting, over the demand window (the scenario, or
    the first ``duration_s`` of it): ``served_veh_h``, trips completed in the window per hour;
    ``queued_at_end_veh``, trips due to have started by its end and not completed then (queued,
    waiting to enter, or still driving); ``queue_growth_veh_h``, that over the window's hours (about
    0 when the demand is served, the unserved demand per hour above capacity).

    A run that drains after the demand (the default) knows every trip's scheduled start
    (arrival - travel time - depart delay); a run cut at the window's end counts the vehicles still
    in the network and those never inserted (all of them due by then, when the window is the whole
    scenario; otherwise the ones waiting to enter are not counted)."""
    sc = sim.scenario
    window_end = min(sim.end_s, sc.end_s)
    hours = max(window_end - sc.begin_s, 1e-9) / 3600.0
    arrival = np.asarray(sim.log.arrival_s)
    scheduled = arrival - np.asarray(sim.log.travel_time_s) - np.asarray(sim.log.depart_delay_s)
    served = int((arrival <= window_end).sum())
    late = int(((scheduled <= window_end) & (arrival > window_end)).sum())
    left = sim.in_network() + (sim.total - sim.inserted if sim.end_s >= sc.end_s else 0)
    queued = late + left
    return {"served_veh_h": served / hours, "queued_at_end_veh": float(queued),
            "queue_growth_veh_h": queued / hours}


def delay_series(sim: Simulation, bin_s: float = SERIES_BIN_S) -> list[float]:
    """Mean time loss (s) of the vehicles that departed in each ``bin_s`` of the scenario (NaN: none)."""
    sc = sim.scenario
    n_bins = max(1, int(np.ceil((min(sim.end_s, sc.end_s) - sc.begin_s) / bin_s)))
    arrival = np.asarray(sim.log.arrival_s)
    depart = arrival - np.asarray(sim.log.travel_time_s)
    loss = np.asarray(sim.log.time_loss_s)
    k = np.clip(((depart - sc.begin_s) // bin_s).astype(int), 0, n_bins - 1) if depart.size else depart.astype(int)
    total = np.bincount(k, weights=loss, minlength=n_bins)
    n = np.bincount(k, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return [float(x) for x in total / n]
