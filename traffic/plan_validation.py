"""Safety validation of signal plans.

Nothing may run a plan (simulator, SUMO export, API activation, adaptive controller) before
``check_plan`` accepts it. Every message names the plan, the phase and the movement at fault.
Which conflicting movements may be green together is ``traffic.compatibility``'s rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from traffic.compatibility import green_together
from traffic.errors import ModelError, PlanValidationError
from traffic.intersection import Intersection
from traffic.pedestrians import HCM_PEDESTRIANS, PedestrianRules, pedestrian_issues, phase_pedestrian_issues
from traffic.safety_defaults import (
    DEFAULT_MAX_CYCLE_S,
    DEFAULT_MIN_ALL_RED_S,
    DEFAULT_MIN_GREEN_S,
    DEFAULT_MIN_YELLOW_S,
)
from traffic.signal_plan import Phase, SignalPlan


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """Safety limits; the defaults follow common practice (ITE/HCM) and SUMO's reference plans.

    ``min_all_red_s`` defaults to 0 because many field programs (and SUMO's generated ones) run
    no all-red; agencies that require one set it (e.g. 1 or 2 s). ``pedestrians``: every crossing's
    walk + clearance (``traffic.pedestrians``; HCM defaults, ``None`` switches the check off).
    """

    min_green_s: float = DEFAULT_MIN_GREEN_S
    min_yellow_s: float = DEFAULT_MIN_YELLOW_S
    min_all_red_s: float = DEFAULT_MIN_ALL_RED_S
    max_cycle_s: float = DEFAULT_MAX_CYCLE_S
    cycle_tolerance_s: float = 1e-6
    pedestrians: PedestrianRules | None = HCM_PEDESTRIANS

    def __post_init__(self) -> None:
        for attr in ("min_green_s", "min_yellow_s", "min_all_red_s", "cycle_tolerance_s"):
            if getattr(self, attr) < 0:
                raise ModelError(f"{attr} (={getattr(self, attr)}) must be >= 0")
        if self.max_cycle_s <= 0:
            raise ModelError(f"max_cycle_s (={self.max_cycle_s}) must be > 0")


DEFAULT_RULES = ValidationRules()


def validate_plan(plan: SignalPlan, intersection: Intersection,
                  rules: ValidationRules = DEFAULT_RULES) -> list[str]:
    """Every safety violation of ``plan`` at ``intersection``; an empty list means safe."""
    where = f"plan {plan.name!r} of {intersection.id!r}"
    if plan.intersection != intersection.id:
        return [f"{where}: plan is for intersection {plan.intersection!r}"]
    issues: list[str] = []
    issues += _unknown_movements(plan, intersection, where)
    if issues:
        return issues
    issues += _cycle_issues(plan, rules, where)
    n = len(plan.phases)
    for i, phase in enumerate(plan.phases):
        following = plan.phases[(i + 1) % n]
        issues += _interval_issues(phase, following, intersection, rules, f"{where}: {phase_label(plan, i)}")
        issues += _conflict_issues(phase, intersection, f"{where}: {phase_label(plan, i)}")
    never = [m for m in intersection.movements if m not in plan.served_movements()]
    issues += [f"{where}: movement {m!r} never gets green" for m in never]
    issues += pedestrian_issues(plan, intersection, rules.pedestrians, where)
    return issues


def check_plan(plan: SignalPlan, intersection: Intersection, rules: ValidationRules = DEFAULT_RULES) -> SignalPlan:
    """Return ``plan`` unchanged if it is safe, else raise ``PlanValidationError`` with every issue."""
    issues = validate_plan(plan, intersection, rules)
    if issues:
        raise PlanValidationError(issues)
    return plan


def validate_phase_pair(phase: Phase, following: Phase, intersection: Intersection,
                        rules: ValidationRules = DEFAULT_RULES, where: str = "") -> list[str]:
    """Safety issues of running ``phase`` (green, yellow, all-red) and then ``following``'s green.

    What ``validate_plan`` checks between two consecutive phases, for controllers that choose the
    next phase as they go (stage control) instead of running a cycle.
    """
    where = where or f"{intersection.id!r}: phase {phase.name!r} to {following.name!r}"
    issues = _unknown_movements_of(phase, intersection, where) + _unknown_movements_of(following, intersection, where)
    if issues:
        return issues
    return (_interval_issues(phase, following, intersection, rules, where)
            + _conflict_issues(phase, intersection, where) + _conflict_issues(following, intersection, where)
            + phase_pedestrian_issues(phase, intersection, rules.pedestrians, where))


def conflict_issues(plan: SignalPlan, intersection: Intersection) -> list[str]:
    """Only the conflict monitor: every phase's movements that may not be green together
    (``traffic.compatibility``), and unknown movements. ``validate_plan`` checks this and more."""
    where = f"plan {plan.name!r} of {intersection.id!r}"
    if plan.intersection != intersection.id:
        return [f"{where}: plan is for intersection {plan.intersection!r}"]
    issues = _unknown_movements(plan, intersection, where)
    if issues:
        return issues
    for i, phase in enumerate(plan.phases):
        issues += phase_conflict_issues(phase, intersection, f"{where}: {phase_label(plan, i)}")
    return issues


def phase_conflict_issues(phase: Phase, intersection: Intersection, where: str) -> list[str]:
    """The pairs of ``phase``'s green movements the compatibility rule refuses (``where`` prefixes each)."""
    return _unknown_movements_of(phase, intersection, where) or _conflict_issues(phase, intersection, where)


def _unknown_movements_of(phase: Phase, intersection: Intersection, where: str) -> list[str]:
    return [f"{where}: unknown movement {m!r}" for m in sorted(phase.green_movements - set(intersection.movements))]


def phase_label(plan: SignalPlan, index: int) -> str:
    """``phase 2 'EW_left'``, or ``phase 2`` for an unnamed phase."""
    name = plan.phases[index].name
    return f"phase {index} {name!r}" if name else f"phase {index}"


def _unknown_movements(plan: SignalPlan, intersection: Intersection, where: str) -> list[str]:
    issues = []
    for i, phase in enumerate(plan.phases):
        for m in sorted(phase.green_movements - set(intersection.movements)):
            issues.append(f"{where}: {phase_label(plan, i)} names unknown movement {m!r}")
    return issues


def _cycle_issues(plan: SignalPlan, rules: ValidationRules, where: str) -> list[str]:
    issues = []
    total = plan.phases_total_s
    if abs(total - plan.cycle_s) > rules.cycle_tolerance_s:
        issues.append(f"{where}: phases sum to {total:g} s but cycle_s is {plan.cycle_s:g} s")
    if plan.cycle_s > rules.max_cycle_s:
        issues.append(f"{where}: cycle_s {plan.cycle_s:g} s exceeds the maximum {rules.max_cycle_s:g} s")
    return issues


def _interval_issues(phase: Phase, following: Phase, intersection: Intersection,
                     rules: ValidationRules, where: str) -> list[str]:
    issues = []
    at = where
    if phase.green_s < rules.min_green_s:
        movements = ", ".join(sorted(phase.green_movements)) or "no movement"
        issues.append(f"{at}: green_s {phase.green_s:g} s is below the minimum green "
                      f"{rules.min_green_s:g} s (movements {movements})")
    if not phase.green_movements:
        issues.append(f"{at}: serves no movement")
    ending = sorted(phase.ending)
    if ending and phase.yellow_s < rules.min_yellow_s:
        issues.append(f"{at}: yellow_s {phase.yellow_s:g} s is below the minimum {rules.min_yellow_s:g} s "
                      f"for movements ending green: {', '.join(ending)}")
    dropped = sorted(phase.carry_over - following.green_movements)
    for m in dropped:
        issues.append(f"{at}: movement {m!r} is carried over but not green in the next phase "
                      "(it would turn red without yellow)")
    starting = following.green_movements - phase.green_movements
    clashing = sorted({m for m in phase.ending for s in starting if intersection.in_conflict(m, s)})
    if clashing and phase.all_red_s < rules.min_all_red_s:
        issues.append(f"{at}: all_red_s {phase.all_red_s:g} s is below the minimum {rules.min_all_red_s:g} s "
                      f"before conflicting movements start: {', '.join(clashing)}")
    return issues


def _conflict_issues(phase: Phase, intersection: Intersection, where: str) -> list[str]:
    """Pairs of movements green together that the compatibility rule (``traffic.compatibility``) refuses."""
    issues = []
    for a, b in combinations(sorted(phase.green_movements), 2):
        verdict = green_together(intersection, a, b, a_permissive=a in phase.permissive,
                                 b_permissive=b in phase.permissive)
        if verdict.allowed:
            continue
        if a in phase.protected and b in phase.protected:
            issues.append(f"{where}: conflicting movements {a!r} and {b!r} are both protected green")
        else:
            issues.append(f"{where}: conflicting movements {a!r} and {b!r} may not be green together: "
                          f"{verdict.reason}")
    return issues
