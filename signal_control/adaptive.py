"""Adaptive control: measured counts drive re-optimised, coordinated plans, with a failsafe.

Every decision interval (the detectors' counting interval), the controller

1. checks each intersection's data: counts missing, a camera not healthy, flows beyond what the
   lanes can carry, or every movement stuck at zero while the rest of the network flows. Bad data
   puts the intersection in ``failsafe``: it runs its time-of-day plan until its data is healthy
   again for ``recover_intervals`` intervals. Every change of mode is logged with its reason;
2. smooths healthy counts per movement (exponential smoothing over ``smoothing_horizon_s``, plus the
   flow that clears the residual queue: ``signal_control.demand_estimate``);
3. every ``reoptimize_every_s``, once ``min_observed_s`` of counts are in, and only when the smoothed
   demand differs from the demand the plans in force were made for by more than sampling noise
   explains (a chi-square test at ``drift_alpha``; the design demand of a time-of-day plan set is
   ``TimeOfDayPlan.design_veh_h``, of an adaptive plan the estimate it was made from, and after a
   re-optimisation that found no plan worth a change the estimate it was run on: the plans in force are
   then within ``min_gain`` of the best for it), re-optimises
   cycle, splits and offsets of the whole network with
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

from signal_control.demand_estimate import DemandEstimate, chi2_quantile, drift_statistic, residual_queue_veh
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
    """Demand is what the detectors counted plus the residual queue left at the end of the interval (beyond
    the one a red builds), to be cleared over this many seconds (the counts are departures: a movement given
    too little green is counted at the flow it was served, and would never get more); None: counts alone."""
    min_observed_s: float = 900.0
    """Seconds of healthy counts needed before the first re-optimisation (one short interval, perhaps
    counted while the network fills, is no basis for a plan)."""
    drift_alpha: float | None = 0.01
    """Re-optimise only when the smoothed demand differs from the demand the plans in force were made for
    more than Poisson sampling noise explains at this significance level (the plans are kept otherwise:
    re-planning on noise costs delay); None: on schedule whatever the counts."""
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
        if not (math.isfinite(self.min_observed_s) and self.min_observed_s >= 0):
            raise ModelError(f"min_observed_s (={self.min_observed_s}) must be >= 0")
        if self.drift_alpha is not None and not 0 < self.drift_alpha < 1:
            raise ModelError(f"drift_alpha (={self.drift_alpha}) must be in (0, 1) or None")


@dataclass(frozen=True, slots=True)
class TimeOfDayPlan:
    """Plans (intersection id -> plan) in force from ``start_s`` (seconds of the day) on."""

    start_s: float
    name: str
    plans: Mapping[str, SignalPlan]
    design_veh_h: Mapping[str, float] | None = None
    """The demand (movement id -> veh/h) the plans were made for, where known: the adaptive controller
    departs from them only when the measured demand has drifted from it."""


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
        self._estimate = DemandEstimate(self.params.smoothing_horizon_s)
        self._last_queues: dict[str, dict[str, float]] = {}
        self._smoothed = self._estimate.pcu_h
        first = min(self.time_of_day, key=lambda t: t.start_s)
        self._design: dict[str, float] | None = dict(first.design_veh_h) if first.design_veh_h is not None else None
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
        self._smooth(counts, bad, signals)
        out: dict[str, list[SignalPlan]] = {}
        for iid in changed_mode:
            if self.modes[iid] == "failsafe":
                out[iid] = self._move(iid, self.time_of_day_plan(iid, now_s), signals[iid])
        due = now_s - self._last_opt_s >= self.params.reoptimize_every_s or any(
            self.modes[i] == "adaptive" for i in changed_mode)
        if due and self._smoothed and self._estimate.observed_s >= self.params.min_observed_s:
            self._last_opt_s = now_s
            targets = self._optimise(now_s, signals) if self._drifted(now_s) else {}
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

    def _smooth(self, counts: Mapping[str, IntervalCounts], bad: Mapping[str, str],
                signals: Mapping[str, SignalState]) -> None:
        veh_h: dict[str, float] = {}
        pcu_h: dict[str, float] = {}
        durations = []
        for iid, c in counts.items():
            if iid in bad or self.modes.get(iid) != "adaptive" or iid not in self.scenario.intersections:
                continue  # keep the last good estimate of an intersection whose data is bad
            state = signals.get(iid)
            queued = self._queued_veh_h(iid, c, state.plan if state is not None else None)
            for m in self.scenario.intersections[iid].movements:
                veh, pcu = c.flow_veh_h(m), c.flow_pcu_h(m)
                extra = queued.get(m, 0.0)
                veh_h[m] = veh + extra
                pcu_h[m] = pcu + extra * (pcu / veh if veh > 0 else 1.0)
            durations.append(c.duration_s)
        if durations:
            self._estimate.update(max(durations), veh_h, pcu_h)

    def _queued_veh_h(self, iid: str, c: IntervalCounts, plan: SignalPlan | None) -> dict[str, float]:
        """Per movement, the flow (veh/h) to add to its departures: its share of its lane groups' queue growth
        over the interval (arrivals = departures + the change of the queue) and of the flow that clears the
        residual queue at the end of the interval within ``params.queue_clear_s`` (shares in proportion to
        the movements' counts; the residual queue: beyond what the red of ``plan``, the plan running, builds
        at the arrival flow)."""
        horizon = self.params.queue_clear_s
        if horizon is None or not c.queues_veh:
            return {}
        before = self._last_queues.get(iid)
        self._last_queues[iid] = dict(c.queues_veh)
        out: dict[str, float] = {}
        for group in self.scenario.intersections[iid].lane_groups:
            queue = c.queues_veh.get(group.id, 0.0)
            counted = {m: c.flow_veh_h(m) for m in group.movements}
            total = sum(counted.values())
            # arrivals = departures + the change of the queue (departures alone come in cycle-sized lumps)
            extra = (queue - before.get(group.id, 0.0)) * 3600.0 / c.duration_s if before is not None else 0.0
            arrived = max(0.0, total + extra)
            residual = queue
            if plan is not None:
                green_s = sum(p.green_s for p in plan.phases if p.green_movements & set(group.movements))
                residual = residual_queue_veh(queue, arrived, max(0.0, plan.cycle_s - green_s))
            extra = arrived - total + residual * 3600.0 / horizon
            if extra == 0.0:
                continue
            for m, q in counted.items():
                share = q / total if total > 0 else 1.0 / len(counted)
                out[m] = out.get(m, 0.0) + share * extra
        return out

    def _drifted(self, now_s: float) -> bool:
        """Whether the smoothed demand differs from the plans' design demand beyond sampling noise (True
        where no design demand is known or the test is off); a "kept" decision is logged otherwise."""
        alpha = self.params.drift_alpha
        if alpha is None or self._design is None or self._estimate.variance_weight_per_s <= 0:
            return True
        stat, df = drift_statistic(self._estimate.veh_h, self._design, self._estimate.variance_weight_per_s)
        if df == 0:
            return False
        limit = chi2_quantile(df, 1.0 - alpha)
        if stat > limit:
            return True
        self.decisions.append(ControllerEvent(now_s, "*", "kept", f"demand within sampling noise of the plans' "
                                                                  f"design demand (chi2 {stat:.1f} <= {limit:.1f}, "
                                                                  f"{df} movements)"))
        return False

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
        self._design = dict(self._estimate.veh_h)
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


def scenario_design_veh_h(scenario: Scenario) -> dict[str, float]:
    """The demand a plan optimised on ``scenario``'s own flows was made for: veh/h per movement, averaged
    over the scenario (``TimeOfDayPlan.design_veh_h`` of such a plan)."""
    return {m: f.veh_h for m, f in movement_demand(scenario).items()}
