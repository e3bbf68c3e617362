"""Adaptive control: measured counts drive re-optimised, coordinated plans, with a failsafe.

Every decision interval (the detectors' counting interval), the controller

1. checks each intersection's data: counts missing, a camera not healthy, flows beyond what the
   lanes can carry, or every movement stuck at zero while the rest of the network flows. Bad data
   puts the intersection in ``failsafe``: it runs its time-of-day plan until its data is healthy
   again for ``recover_intervals`` intervals. Every change of mode is logged with its reason;
2. smooths healthy counts per movement (exponential smoothing over ``smoothing_horizon_s``);
3. every ``reoptimize_every_s`` re-optimises cycle, splits and offsets of the whole network with
   the Numba optimiser on the smoothed flows (saturation flows of ``params.webster``: by default
   those measured in SUMO micro, which the simulator is calibrated to), and keeps the plans in
   force when the new ones are not predicted to be at least ``min_gain`` better on the same demand
   (a transition costs a few disturbed cycles; chasing noise in the counts costs more than it brings).
   While a signal is in failsafe the others are re-optimised on its time-of-day cycle, with all
   offsets shifted together so that the failsafe signal sits where the optimiser wanted it (the
   corridor stays on one cycle and coordinated around the signal it cannot adapt);
4. moves each signal to its new plan through bounded transition cycles
   (``signal_control.transition``), starting at the end of the cycle in progress.

Every plan it returns has passed the safety rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from signal_control.errors import OptimizerError
from signal_control.movement_demand import movement_demand
from signal_control.network_model import build_arrays
from signal_control.optimize import Method, optimize
from signal_control.params import DEFAULT_DELAY, SUMO_MICRO, WebsterParams
from signal_control.transition import transition_plans
from traffic.checks import require
from traffic.control import SignalState
from traffic.counts import Health, IntervalCounts
from traffic.errors import ModelError
from traffic.plan_validation import DEFAULT_RULES, ValidationRules, check_plan
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan

ABOVE_CAPACITY = replace(SUMO_MICRO, above_capacity=True)
"""The adaptive controller's default: SUMO-micro saturation flows, and demand above capacity served with
maximum-throughput plans (queue balancing) instead of refused."""


@dataclass(frozen=True, slots=True)
class AdaptiveParams:
    """Settings of the adaptive controller (times in seconds)."""

    reoptimize_every_s: float = 900.0
    smoothing_horizon_s: float = 600.0
    method: Method = "delay"
    max_step: float = 0.2
    """Largest cycle-length change per transition cycle, as a share of the cycle."""
    capacity_factor: float = 1.3
    """Counts above this multiple of the lanes' saturation flow (1,900 veh/h per lane) are implausible."""
    zero_intervals: int = 2
    """Intervals with every movement at zero, while the other intersections flow, before failsafe."""
    recover_intervals: int = 2
    """Healthy intervals needed to leave failsafe."""
    min_network_flow_veh_h: float = 300.0
    """What "the other intersections flow" means for the stuck-at-zero check."""
    webster: WebsterParams = ABOVE_CAPACITY
    """Saturation flows and lost times the optimiser plans with."""
    min_gain: float = 0.03
    """Smallest predicted relative gain (performance index, same demand) worth a plan change; 0 always changes."""
    queue_clear_s: float | None = 900.0
    """Demand is what the detectors counted plus the queue left at the end of the interval, to be cleared
    over this many seconds (the counts are departures: a movement given too little green is counted at
    the flow it was served, and would never get more); None: counts alone."""
    corridor: tuple[str, ...] | None = None
    """The signals to coordinate, outbound order (default: the optimiser's busiest straight chain, or no
    coordination where none exists)."""

    def __post_init__(self) -> None:
        require(self, ("reoptimize_every_s", "smoothing_horizon_s", "capacity_factor", "min_network_flow_veh_h"),
                strict=True, what="adaptive parameter")
        if not 0 < self.max_step < 1:
            raise ModelError(f"max_step (={self.max_step}) must be between 0 and 1")
        if not 0 <= self.min_gain < 1:
            raise ModelError(f"min_gain (={self.min_gain}) must be in [0, 1)")
        if self.queue_clear_s is not None and not self.queue_clear_s > 0:
            raise ModelError(f"queue_clear_s (={self.queue_clear_s}) must be > 0 or None")


@dataclass(frozen=True, slots=True)
class TimeOfDayPlan:
    """Plans (intersection id -> plan) in force from ``start_s`` (seconds of the day) on."""

    start_s: float
    name: str
    plans: Mapping[str, SignalPlan]


@dataclass(frozen=True, slots=True)
class ControllerEvent:
    time_s: float
    intersection: str
    event: str
    reason: str


@dataclass
class AdaptiveController:
    """Implements ``traffic.control.Controller``; see the module docstring."""

    scenario: Scenario
    time_of_day: Sequence[TimeOfDayPlan]
    params: AdaptiveParams = field(default_factory=AdaptiveParams)
    rules: ValidationRules = DEFAULT_RULES
    events: list[ControllerEvent] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)
    applied: list[tuple[float, str, str]] = field(default_factory=list)
    """Every plan the controller asked for: (time, intersection, plan name)."""
    decisions: list[ControllerEvent] = field(default_factory=list)
    """Re-optimisations whose plans were not worth a change (``events`` holds the mode changes)."""

    def __post_init__(self) -> None:
        if not self.time_of_day:
            raise ModelError("at least one time-of-day plan set is required (the failsafe)")
        for tod in self.time_of_day:
            for iid, plan in tod.plans.items():
                check_plan(plan, self.scenario.intersections[iid], self.rules)
        self.modes = dict.fromkeys(self.scenario.intersections, "adaptive")
        self._smoothed: dict[str, float] = {}
        self._zero_runs = dict.fromkeys(self.scenario.intersections, 0)
        self._healthy_runs = dict.fromkeys(self.scenario.intersections, 0)
        self._last_opt_s = -math.inf
        self._targets: dict[str, SignalPlan] = {}
        self._lanes = {iid: {m: len(mv.from_lanes) for m, mv in inter.movements.items()}
                       for iid, inter in self.scenario.intersections.items()}

    # --- the Controller protocol ----------------------------------------------------------------

    def decide(self, now_s: float, counts: Mapping[str, IntervalCounts],
               signals: Mapping[str, SignalState]) -> dict[str, list[SignalPlan]]:
        bad = self._check_health(now_s, counts)
        changed_mode = self._update_modes(now_s, bad)
        self._smooth(counts, bad)
        out: dict[str, list[SignalPlan]] = {}
        for iid in changed_mode:
            if self.modes[iid] == "failsafe":
                out[iid] = self._move(iid, self.time_of_day_plan(iid, now_s), signals[iid])
        due = now_s - self._last_opt_s >= self.params.reoptimize_every_s or any(
            self.modes[i] == "adaptive" for i in changed_mode)
        if due and self._smoothed:
            self._last_opt_s = now_s
            targets = self._optimise(now_s, signals)
            for iid, plan in targets.items():
                if self.modes[iid] == "adaptive" and self._differs(iid, plan, signals[iid]):
                    out[iid] = self._move(iid, plan, signals[iid])
        return out

    # --- pieces -----------------------------------------------------------------------------------

    def target_plans(self) -> dict[str, SignalPlan]:
        """The plan each signal runs or is moving to (its time-of-day plan until the first change)."""
        return {iid: self._targets.get(iid, self.time_of_day_plan(iid, 0.0)) for iid in self.scenario.intersections}

    def time_of_day_plan(self, intersection: str, now_s: float) -> SignalPlan:
        day_s = now_s % 86400.0
        current = max((t for t in self.time_of_day if t.start_s <= day_s), key=lambda t: t.start_s,
                      default=max(self.time_of_day, key=lambda t: t.start_s))
        return current.plans[intersection]

    def _check_health(self, now_s: float, counts: Mapping[str, IntervalCounts]) -> dict[str, str]:
        bad: dict[str, str] = {}
        network_flow = sum(c.flow_veh_h(m) for c in counts.values() for m in c.counts)
        for iid in self.scenario.intersections:
            c = counts.get(iid)
            if c is None:
                bad[iid] = "counts missing"
                continue
            if c.health is not Health.OK:
                bad[iid] = f"camera health {c.health.value}"
                continue
            flows = {m: c.flow_veh_h(m) for m in c.counts}
            over = [m for m, q in flows.items()
                    if q > self.params.capacity_factor * 1900.0 * self._lanes[iid].get(m, 1)]
            if over:
                bad[iid] = f"implausible counts ({over[0]}: {flows[over[0]]:.0f} veh/h)"
                continue
            own = sum(flows.values())
            others = network_flow - own
            self._zero_runs[iid] = self._zero_runs[iid] + 1 if own == 0 and \
                others >= self.params.min_network_flow_veh_h else 0
            if self._zero_runs[iid] >= self.params.zero_intervals:
                bad[iid] = f"counts stuck at zero for {self._zero_runs[iid]} intervals while the network flows"
        return bad

    def _update_modes(self, now_s: float, bad: Mapping[str, str]) -> list[str]:
        changed = []
        for iid, mode in self.modes.items():
            if iid in bad:
                self._healthy_runs[iid] = 0
                if mode == "adaptive":
                    self.modes[iid] = "failsafe"
                    self.events.append(ControllerEvent(now_s, iid, "failsafe", bad[iid]))
                    changed.append(iid)
            else:
                self._healthy_runs[iid] += 1
                if mode == "failsafe" and self._healthy_runs[iid] >= self.params.recover_intervals:
                    self.modes[iid] = "adaptive"
                    self.events.append(ControllerEvent(now_s, iid, "adaptive",
                                                       f"data healthy for {self._healthy_runs[iid]} intervals"))
                    changed.append(iid)
        return changed

    def _smooth(self, counts: Mapping[str, IntervalCounts], bad: Mapping[str, str]) -> None:
        for iid, c in counts.items():
            if iid in bad or self.modes.get(iid) != "adaptive":
                continue  # keep the last good estimate of an intersection whose data is bad
            alpha = 1.0 - math.exp(-c.duration_s / self.params.smoothing_horizon_s)
            queued = self._queued_pcu_h(iid, c)
            for m in self.scenario.intersections[iid].movements:
                q = c.flow_pcu_h(m) + queued.get(m, 0.0)
                old = self._smoothed.get(m)
                self._smoothed[m] = q if old is None else old + alpha * (q - old)

    def _queued_pcu_h(self, iid: str, c: IntervalCounts) -> dict[str, float]:
        """Per movement, the flow (PCU/h) that clears its share of its lane groups' queues at the end of
        the interval within ``params.queue_clear_s`` (shares in proportion to the movements' counts)."""
        horizon = self.params.queue_clear_s
        if horizon is None or not c.queues_veh:
            return {}
        out: dict[str, float] = {}
        for group in self.scenario.intersections[iid].lane_groups:
            queue = c.queues_veh.get(group.id, 0.0)
            if queue <= 0:
                continue
            counted = {m: c.flow_pcu_h(m) for m in group.movements}
            total = sum(counted.values())
            for m, q in counted.items():
                share = q / total if total > 0 else 1.0 / len(counted)
                out[m] = out.get(m, 0.0) + share * queue * 3600.0 / horizon
        return out

    def _optimise(self, now_s: float, signals: Mapping[str, SignalState]) -> dict[str, SignalPlan]:
        demand = dict(self._smoothed)
        # a signal in failsafe runs its time-of-day plan: keep the others on its cycle, so that the
        # corridor stays on one common cycle and the adaptive signals stay coordinated among themselves
        fallback = [self.time_of_day_plan(iid, now_s).cycle_s for iid, m in self.modes.items() if m == "failsafe"]
        try:
            result = optimize(self.scenario, self.params.method, corridor=self.params.corridor, counts=demand,
                              webster=self.params.webster,
                              cycle_s=fallback[0] if fallback else None, name=f"adaptive@{now_s:.0f}",
                              rules=self.rules)
        except OptimizerError as exc:
            for iid in self.scenario.intersections:
                self.events.append(ControllerEvent(now_s, iid, "kept", f"optimiser: {exc}"))
            return {}
        plans = dict(result.plans)
        if fallback:
            plans = self._aligned_to_fallback(plans, now_s)
        running = {iid: self._targets.get(iid, signals[iid].plan) for iid in plans if iid in signals}
        gain = self._predicted_gain(running, result.predicted_pi, demand)
        if gain is not None and gain < self.params.min_gain:
            self.decisions.append(ControllerEvent(now_s, "*", "kept", f"predicted gain {100 * gain:.1f}% < "
                                                                      f"{100 * self.params.min_gain:g}%"))
            return {}
        return plans

    def _aligned_to_fallback(self, plans: dict[str, SignalPlan], now_s: float) -> dict[str, SignalPlan]:
        """Shift every offset by one amount (the coordination among the plans is unchanged) so that the
        first signal in failsafe, which runs its time-of-day plan, sits where the optimiser wanted it."""
        iid = next(i for i, m in self.modes.items() if m == "failsafe")
        fixed = self.time_of_day_plan(iid, now_s)
        delta = fixed.offset_s - plans[iid].offset_s
        return {i: p.with_offset(round((p.offset_s + delta) % p.cycle_s, 3)) for i, p in plans.items()}

    def _predicted_gain(self, current: Mapping[str, SignalPlan], new_pi: float | None,
                        demand: Mapping[str, float]) -> float | None:
        """Relative PI gain of the new plans (``new_pi``) over ``current``, the plans being run (or being
        moved to), on ``demand``; None when not comparable (no PI, a signal missing, plans of different
        cycles in force)."""
        if self.params.min_gain <= 0 or new_pi is None or len(current) != len(self.scenario.intersections) \
                or len({p.cycle_s for p in current.values()}) != 1:
            return None
        arrays = build_arrays(self.scenario, current, movement_demand(self.scenario, demand), self.params.webster,
                              DEFAULT_DELAY)
        old_pi = arrays.pi()
        return (old_pi - new_pi) / old_pi if old_pi > 0 else None

    def _differs(self, iid: str, plan: SignalPlan, state: SignalState) -> bool:
        old = self._targets.get(iid, state.plan)
        same_offset = abs((plan.offset_s - old.offset_s + plan.cycle_s / 2) % plan.cycle_s - plan.cycle_s / 2) < 0.5
        same = (abs(plan.cycle_s - old.cycle_s) < 0.5 and same_offset and len(plan.phases) == len(old.phases)
                and all(abs(a.green_s - b.green_s) < 0.5 for a, b in zip(plan.phases, old.phases, strict=True)))
        return not same

    def _move(self, iid: str, plan: SignalPlan, state: SignalState) -> list[SignalPlan]:
        self._targets[iid] = plan
        sequence = transition_plans(plan, state.cycle_end_s, self.scenario.intersections[iid],
                                    self.params.max_step, self.rules)
        self.applied.append((state.cycle_end_s, iid, plan.name))
        return sequence
