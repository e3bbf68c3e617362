"""Isolated-intersection timing: Webster's optimum cycle and greens in proportion to critical y.

C0 = (1.5 L + 5) / (1 - Y) (Webster 1958), with L the total lost time and Y the sum of the phases'
critical flow ratios, bounded to [min, max] cycle; effective greens share C - L in proportion to
the critical y, displayed greens keep every phase's yellow and all-red. When Y >= 0.9 the plan is
over-saturated: the longest allowed cycle, greens balanced on v/c (equal degrees of saturation),
and a warning. Y >= 1 cannot be served and raises :class:`InfeasibleDemandError`, unless
``WebsterParams.above_capacity``: then the same maximum-throughput plan (queues grow, balanced).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from signal_control.errors import InfeasibleDemandError
from signal_control.lane_groups import LaneGroupLoad, lane_group_loads
from signal_control.movement_demand import MovementFlow
from signal_control.params import HCM, TimingParams, WebsterParams
from traffic.intersection import Intersection
from traffic.network import Network
from traffic.pedestrians import phase_min_greens_s
from traffic.plan_validation import ValidationRules, check_plan
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True)
class PhaseRatios:
    """Critical flow ratio, critical lane group and lost time of each phase of a plan."""

    y: NDArray[np.float64]
    critical_group: tuple[str | None, ...]
    lost_s: NDArray[np.float64]
    loads: tuple[LaneGroupLoad, ...]

    @property
    def total_y(self) -> float:
        return float(self.y.sum())

    @property
    def total_lost_s(self) -> float:
        return float(self.lost_s.sum())


@dataclass(frozen=True)
class WebsterResult:
    """A Webster plan and the figures behind it."""

    plan: SignalPlan
    webster_cycle_s: float
    ratios: PhaseRatios
    oversaturated: bool
    predicted_delay_s: float
    warnings: tuple[str, ...] = ()


def phase_ratios(network: Network, inter: Intersection, plan: SignalPlan,
                 demand: Mapping[str, MovementFlow], params: WebsterParams,
                 loads: Sequence[LaneGroupLoad] | None = None) -> PhaseRatios:
    """Critical y per phase: the largest flow ratio among the lane groups each phase serves.

    ``loads``: ``lane_group_loads`` of ``plan``'s phasing, demand and ``params.saturation``, already
    computed (they do not depend on the greens); computed here when None.
    """
    if loads is None:
        loads = lane_group_loads(network, inter, plan, demand, params.saturation)
    y = np.zeros(len(plan.phases))
    crit: list[str | None] = [None] * len(plan.phases)
    for load in loads:
        if load.flow_ratio > y[load.phase]:
            y[load.phase] = load.flow_ratio
            crit[load.phase] = load.group.id
    lost = np.array([params.timing.lost_time_s(p.yellow_s, p.all_red_s) for p in plan.phases])
    return PhaseRatios(y, tuple(crit), lost, tuple(loads))


def webster_cycle_s(total_y: float, total_lost_s: float, params: WebsterParams) -> tuple[float, bool]:
    """``(cycle, oversaturated)``: Webster's optimum cycle within the bounds, whole seconds."""
    if total_y >= params.oversaturation_y:
        return float(params.max_cycle_s), True
    c0 = (1.5 * total_lost_s + 5.0) / (1.0 - total_y)
    return float(min(params.max_cycle_s, max(params.min_cycle_s, math.ceil(c0 - 1e-9)))), False


def split_greens(cycle_s: float, ratios: PhaseRatios, plan: SignalPlan, params: WebsterParams,
                 min_greens_s: Sequence[float] | None = None) -> list[float]:
    """Displayed greens (whole seconds) summing with the interphases to ``cycle_s``.

    Effective green in proportion to the critical y (phases without demand get the minimum);
    displayed G = g + start-up loss - yellow used, at least each phase's minimum (``min_greens_s``,
    default ``params.min_green_s`` for every phase).
    """
    t = params.timing
    floor = np.asarray(min_greens_s if min_greens_s is not None else [params.min_green_s] * len(plan.phases),
                       dtype=float)
    interphase = sum(p.yellow_s + p.all_red_s for p in plan.phases)
    available = cycle_s - interphase
    y = ratios.y
    weights = y / y.sum() if y.sum() > 0 else np.full(len(y), 1.0 / len(y))
    effective = (cycle_s - ratios.total_lost_s) * weights
    greens = np.maximum(effective + t.startup_lost_s - t.yellow_used_s, floor)
    # shrink the phases above the minimum until the greens fit, then round preserving the total
    for _ in range(len(greens)):
        excess = greens.sum() - available
        free = greens > floor + 1e-9
        if excess <= 1e-9 or not free.any():
            break
        slack = greens[free] - floor[free]
        greens[free] -= np.minimum(slack, excess * slack / slack.sum())
    return _round_preserving(greens, available, floor)


def _round_preserving(values: NDArray[np.float64], total: float, floor: NDArray[np.float64]) -> list[float]:
    base = np.floor(values + 1e-9)
    left = round(float(total - base.sum()))
    order = np.argsort(-(values - base))
    for k in range(max(0, left)):
        base[order[k % len(base)]] += 1
    for _ in range(max(0, -left)):
        i = int(np.argmax(base - floor))
        base[i] -= 1
    return [float(v) for v in base]


def min_greens_for(plan: SignalPlan, inter: Intersection, params: WebsterParams) -> list[float]:
    """Each phase's minimum green: ``params.min_green_s``, or more where a pedestrian crossing that
    may walk during it needs its walk + clearance (``params.pedestrians``)."""
    return phase_min_greens_s(plan, inter, params.pedestrians, params.min_green_s)


def min_cycle_for(plan: SignalPlan, params: WebsterParams, inter: Intersection | None = None,
                  min_greens_s: Sequence[float] | None = None) -> float:
    """Shortest cycle that fits every phase's minimum green (pedestrians' too, given ``inter``) and
    its interphase. ``min_greens_s``: those minimums already computed (``min_greens_for`` of ``plan``)."""
    if min_greens_s is not None:
        mins = list(min_greens_s)
    elif inter is not None:
        mins = min_greens_for(plan, inter, params)
    else:
        mins = [params.min_green_s] * len(plan.phases)
    return float(sum(g + p.yellow_s + p.all_red_s for g, p in zip(mins, plan.phases, strict=True)))


def webster_plan(network: Network, inter: Intersection, plan: SignalPlan, demand: Mapping[str, MovementFlow],
                 params: WebsterParams = HCM, cycle_s: float | None = None, name: str = "webster",
                 rules: ValidationRules | None = None, ratios: PhaseRatios | None = None,
                 min_greens_s: Sequence[float] | None = None) -> WebsterResult:
    """Webster cycle and splits for one intersection, keeping ``plan``'s phase sequence.

    Args:
        cycle_s: impose this cycle (coordination) instead of the intersection's own optimum.
        ratios, min_greens_s: ``phase_ratios`` and ``min_greens_for`` of this very ``plan``, demand and
            ``params``, already computed (an optimiser trying many cycles); computed here when None.

    Raises:
        InfeasibleDemandError: Y >= 1.
        PlanValidationError: the result breaks a safety rule (it should not).
    """
    if ratios is None:
        ratios = phase_ratios(network, inter, plan, demand, params)
    if ratios.total_y >= 1.0 and not params.above_capacity:
        crit = ", ".join(f"{g} y={v:.2f}" for g, v in zip(ratios.critical_group, ratios.y, strict=True) if g)
        raise InfeasibleDemandError(f"intersection {inter.id!r}: flow ratios sum to Y={ratios.total_y:.2f} >= 1, "
                                    f"no fixed-time plan can serve it (critical: {crit})")
    own, over = webster_cycle_s(ratios.total_y, ratios.total_lost_s, params)
    warnings: list[str] = []
    if over:
        warnings.append(f"intersection {inter.id!r}: over-saturated (Y={ratios.total_y:.2f} >= "
                        f"{params.oversaturation_y}); longest cycle {params.max_cycle_s:g} s, greens balanced on v/c"
                        + (": demand above capacity, queues grow" if ratios.total_y >= 1.0 else ""))
    mins = list(min_greens_s) if min_greens_s is not None else min_greens_for(plan, inter, params)
    cycle = max(cycle_s if cycle_s is not None else own, min_cycle_for(plan, params, min_greens_s=mins))
    if cycle_s is None and not over:
        cycle = fit_beside_minimums(cycle, own, ratios, plan, params, mins)
    greens = split_greens(cycle, ratios, plan, params, mins)
    if params.refine_splits and not over:
        greens = refine_greens(greens, plan, ratios, params, mins)
    new = replace(plan.with_greens(greens, name=name), offset_s=0.0)
    check_plan(new, inter, rules or ValidationRules(min_green_s=min(5.0, params.min_green_s),
                                                    pedestrians=params.pedestrians))
    delay = predicted_delay_s(new, ratios, params.timing)
    return WebsterResult(new, own, ratios, over, delay, tuple(warnings))


def fit_beside_minimums(cycle_s: float, webster_s: float, ratios: PhaseRatios, plan: SignalPlan,
                        params: WebsterParams, min_greens_s: Sequence[float]) -> float:
    """The cycle, grown a second at a time (up to ``max_cycle_s``), until no phase runs above the
    degree of saturation Webster's own cycle gives (X = Y C0 / (C0 - L)): where minimum greens (a
    pedestrian crossing's walk + clearance) hold some phases above their share, the others would
    otherwise get what is left of a cycle sized for the demand alone."""
    y, lost, t = ratios.y, ratios.total_lost_s, params.timing
    if ratios.total_y <= 0 or webster_s <= lost:
        return cycle_s
    plain = split_greens(cycle_s, ratios, plan, params)
    if all(g >= m - 1e-9 for g, m in zip(plain, min_greens_s, strict=True)):
        return cycle_s  # the minimums do not bind: Webster's cycle stands
    x_target = ratios.total_y * webster_s / (webster_s - lost)
    c = cycle_s
    while c < params.max_cycle_s:
        greens = split_greens(c, ratios, plan, params, min_greens_s)
        eff = [max(1e-9, g - t.startup_lost_s + t.yellow_used_s) for g in greens]
        if max(float(yi) * c / e for yi, e in zip(y, eff, strict=True)) <= x_target + 1e-9:
            break
        c += 1.0
    return c


def refine_greens(greens: list[float], plan: SignalPlan, ratios: PhaseRatios, params: WebsterParams,
                  min_greens_s: Sequence[float] | None = None) -> list[float]:
    """Move whole seconds of green between phases while the predicted control delay falls (never
    below each phase's minimum, ``min_greens_s``, default ``params.min_green_s``)."""
    mins = list(min_greens_s) if min_greens_s is not None else [params.min_green_s] * len(greens)
    best = list(greens)
    best_d = predicted_delay_s(plan.with_greens(best), ratios, params.timing)
    improved = True
    while improved:
        improved = False
        for a in range(len(best)):
            for b in range(len(best)):
                if a == b or best[b] - 1.0 < mins[b] - 1e-9:
                    continue
                trial = list(best)
                trial[a] += 1.0
                trial[b] -= 1.0
                d = predicted_delay_s(plan.with_greens(trial), ratios, params.timing)
                if d < best_d - 1e-9:
                    best, best_d, improved = trial, d, True
    return best


def predicted_delay_s(plan: SignalPlan, ratios: PhaseRatios, timing: TimingParams) -> float:
    """Flow-weighted control delay (s/veh): HCM 2000 uniform + incremental delay, T = 1 h, k = 0.5."""
    total_q = total_d = 0.0
    for load in ratios.loads:
        if load.flow_veh_h <= 0:
            continue
        phase = plan.phases[load.phase]
        g = max(1.0, phase.green_s - timing.startup_lost_s + timing.yellow_used_s)
        total_q += load.flow_veh_h
        total_d += load.flow_veh_h * hcm_delay_s(plan.cycle_s, g, load.flow_pcu_h, load.saturation_pcu_h)
    return total_d / total_q if total_q else 0.0


def hcm_delay_s(cycle_s: float, green_s: float, flow_h: float, saturation_h: float, period_h: float = 1.0) -> float:
    """HCM 2000 control delay d1 + d2 of one lane group (pretimed, no initial queue)."""
    lam = green_s / cycle_s
    cap = saturation_h * lam
    x = flow_h / cap
    d1 = 0.5 * cycle_s * (1 - lam) ** 2 / (1 - min(1.0, x) * lam)
    d2 = 900 * period_h * ((x - 1) + math.sqrt((x - 1) ** 2 + 8 * 0.5 * x / (cap * period_h)))
    return d1 + d2
