"""Smooth plan transitions: move a signal to a new plan's cycle, splits and offset over a few
cycles, changing the cycle by a bounded amount each time (no sudden jump of the coordination).

The sequence starts at the end of the cycle in progress, ``start_s``. The new plan's phase 0 must
then start at ``offset_s + k * cycle_s`` (SUMO semantics). Transition cycles are the new plan with
its greens stretched or squeezed (yellow and all-red kept), each within ``max_step`` of the new
cycle, so the shift is spread over as few cycles as that allows. Every plan returned passes the
safety rules.
"""

from __future__ import annotations

import math
from dataclasses import replace

from traffic.errors import ModelError
from traffic.intersection import Intersection
from traffic.pedestrians import phase_min_greens_s
from traffic.plan_validation import DEFAULT_RULES, ValidationRules, check_plan
from traffic.signal_plan import SignalPlan


def transition_plans(target: SignalPlan, start_s: float, intersection: Intersection, max_step: float = 0.2,
                     rules: ValidationRules = DEFAULT_RULES) -> list[SignalPlan]:
    """Plans to run from ``start_s``: transition cycles (one cycle each), then ``target``.

    Args:
        target: the plan to reach, with the offset it must end up with.
        start_s: when the sequence starts (the end of the cycle in progress).
        max_step: largest change of cycle length per transition cycle, as a share of the target cycle.

    Raises:
        ModelError: ``max_step`` outside (0, 1).
        PlanValidationError: the target itself is unsafe.
    """
    if not 0 < max_step < 1:
        raise ModelError(f"max_step (={max_step}) must be between 0 and 1")
    check_plan(target, intersection, rules)
    cycle = target.cycle_s
    # target phase 0 starts at offset + k*cycle; after transition cycles summing to S it starts at start + S
    shift = (target.offset_s - start_s) % cycle
    if shift > cycle / 2:
        shift -= cycle  # shorten cycles rather than lengthen them by more than half a cycle
    if abs(shift) < 1e-6:
        return [target]
    mins = phase_min_greens_s(target, intersection, rules.pedestrians, rules.min_green_s)
    room = _room(target, rules, mins, shortening=shift < 0)
    step = min(max_step * cycle, room)
    if step <= 1e-6:
        return [target]  # splits at their minimum: cannot shorten safely; keep the plan as it runs
    n = math.ceil(abs(shift) / step - 1e-9)
    each = cycle + shift / n
    steps = [_stretched(target, each, k, mins) for k in range(n)]
    for plan in steps:
        check_plan(plan, intersection, rules)
    return [*steps, target]


def _room(plan: SignalPlan, rules: ValidationRules, mins: list[float], shortening: bool) -> float:
    """How much one cycle can be shortened (greens down to each phase's minimum, pedestrians' included)
    or lengthened."""
    if not shortening:
        return math.inf if rules.max_cycle_s >= 2 * plan.cycle_s else rules.max_cycle_s - plan.cycle_s
    return sum(max(0.0, p.green_s - m) for p, m in zip(plan.phases, mins, strict=True))


def _stretched(plan: SignalPlan, cycle_s: float, k: int, mins: list[float]) -> SignalPlan:
    fixed = sum(p.yellow_s + p.all_red_s for p in plan.phases)
    greens = [p.green_s for p in plan.phases]
    extra = cycle_s - plan.cycle_s
    if extra >= 0:
        new = [g + extra * g / sum(greens) for g in greens]
    else:  # take the cut from each green in proportion to its slack above the minimum
        slack = [max(0.0, g - m) for g, m in zip(greens, mins, strict=True)]
        total = sum(slack) or 1.0
        new = [g + extra * s / total for g, s in zip(greens, slack, strict=True)]
    phases = tuple(replace(p, green_s=round(g, 3)) for p, g in zip(plan.phases, new, strict=True))
    total = sum(p.duration_s for p in phases)
    assert abs(total - (fixed + sum(new))) < 0.01
    return SignalPlan(plan.intersection, f"{plan.name}~t{k + 1}", round(total, 3), 0.0, phases)
