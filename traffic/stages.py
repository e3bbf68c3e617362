"""Stage control: the stages a signal may show and the safe moves between them.

A stage controller (max pressure, Greenwave's adaptive stage control) runs no cycle: every control
step it says which stage should be green next. The stages are the green phases of the
intersection's own program, so a signal never shows a combination its program does not (the
field's phase structure). Moving from stage ``a`` to ``b`` shows yellow to the movements of ``a``
that are not green in ``b``, then the program's all-red; movements green in both stay green, as in
the program's own overlaps. Every stage and every move is validated before anything runs it.

``StageSignal`` is the signal head: it holds the stage, runs the clearance intervals, and never
leaves a green before its minimum green, whatever the controller asks. A stage in which a
pedestrian crossing may walk has at least that crossing's walk + clearance as its minimum green
(``traffic.pedestrians``): the controller cannot know the next stage, so each stage alone must hold it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from traffic.errors import ModelError, PlanValidationError
from traffic.intersection import Intersection
from traffic.pedestrians import stage_min_green_s
from traffic.plan_validation import DEFAULT_RULES, ValidationRules, validate_phase_pair
from traffic.signal_plan import Interval, Phase, SignalPlan


@dataclass(frozen=True, slots=True)
class Stage:
    """One green stage: its protected (``G``) and permissive (``g``) movements."""

    name: str
    protected: frozenset[str]
    permissive: frozenset[str]

    @property
    def green_movements(self) -> frozenset[str]:
        return self.protected | self.permissive


@dataclass(frozen=True)
class StageSet:
    """The stages of one intersection and the clearance it runs between them.

    Attributes:
        yellow_s: yellow shown to movements whose green ends (the program's longest yellow).
        all_red_s: all-red after the yellow (the program's longest all-red).
        min_green_s: no stage ends before this much green.
        stage_min_green_s: each stage's own minimum green (at least ``min_green_s``; more where a
            crossing may walk during it); empty means ``min_green_s`` for every stage.
    """

    intersection: Intersection
    stages: tuple[Stage, ...]
    yellow_s: float
    all_red_s: float
    min_green_s: float
    stage_min_green_s: tuple[float, ...] = ()

    def min_green_of(self, stage: int) -> float:
        """The green stage ``stage`` must show before it may end."""
        return self.stage_min_green_s[stage] if self.stage_min_green_s else self.min_green_s

    def clearance(self, a: int, b: int) -> Phase:
        """Stage ``a`` as a phase ending into stage ``b`` (its carry-over: movements green in both)."""
        sa, sb = self.stages[a], self.stages[b]
        ending = sa.green_movements - sb.green_movements
        return Phase(sa.name, self.min_green_of(a), self.yellow_s if ending else 0.0, self.all_red_s if ending else 0.0,
                     sa.protected, sa.permissive, sa.green_movements & sb.green_movements)

    def as_phase(self, b: int) -> Phase:
        s = self.stages[b]
        return Phase(s.name, self.min_green_of(b), self.yellow_s, self.all_red_s, s.protected, s.permissive)

    def state(self, a: int, interval: Interval, b: int | None = None) -> str:
        """SUMO state string (``linkIndex`` order) of stage ``a``'s green, or of its clearance into ``b``."""
        phase = self.clearance(a, b) if b is not None else self.as_phase(a)
        return "".join(phase.state_of(m, interval) if m is not None else "r" for m in self.intersection.signal_links)


def stage_set_from_plan(plan: SignalPlan, intersection: Intersection, rules: ValidationRules = DEFAULT_RULES,
                        min_green_s: float | None = None) -> StageSet:
    """The stages of ``plan`` (its distinct green phases, in program order), with every move validated.

    Raises ``PlanValidationError`` listing every unsafe stage or move, ``ModelError`` on a plan
    with fewer than two stages.
    """
    stages: list[Stage] = []
    seen: set[tuple[frozenset[str], frozenset[str]]] = set()
    for i, phase in enumerate(plan.phases):
        key = (phase.protected, phase.permissive)
        if key not in seen and phase.green_movements:
            seen.add(key)
            stages.append(Stage(phase.name or f"stage {len(stages)} (phase {i})", phase.protected, phase.permissive))
    if len(stages) < 2:
        raise ModelError(f"plan {plan.name!r} of {intersection.id!r}: stage control needs at least two stages")
    yellow = max([p.yellow_s for p in plan.phases] + [rules.min_yellow_s])
    all_red = max([p.all_red_s for p in plan.phases] + [rules.min_all_red_s])
    min_green = rules.min_green_s if min_green_s is None else min_green_s
    per_stage = tuple(max(min_green, stage_min_green_s(Phase(s.name, 0.0, 0.0, 0.0, s.protected, s.permissive),
                                                       intersection, rules.pedestrians)) for s in stages)
    out = StageSet(intersection, tuple(stages), yellow, all_red, min_green, per_stage)
    issues = stage_set_issues(out, rules)
    if issues:
        raise PlanValidationError(issues)
    return out


def stage_set_issues(stages: StageSet, rules: ValidationRules = DEFAULT_RULES) -> list[str]:
    """Every unsafe stage or move of a stage set (each stage's greens, each clearance into every other
    stage) and every movement no stage serves; an empty list means the set is safe to run."""
    inter, ss = stages.intersection, stages.stages
    issues: list[str] = []
    for a in range(len(ss)):
        for b in range(len(ss)):
            if a != b:
                where = f"{inter.id!r}: stage {a} ({ss[a].name}) to stage {b} ({ss[b].name})"
                issues += validate_phase_pair(stages.clearance(a, b), stages.as_phase(b), inter, rules, where)
    served = frozenset().union(*(s.green_movements for s in ss))
    issues += [f"{inter.id!r}: movement {m!r} is in no stage" for m in inter.movements if m not in served]
    return issues


class StageSignal:
    """The signal head of one intersection under stage control.

    ``request(b, now)`` asks for stage ``b``; it is honoured only while a stage is green and has
    had its minimum green (else ignored: the controller asks again next step). ``advance(now)``
    runs the clearance intervals; both return True when the shown state changed.
    """

    def __init__(self, stages: StageSet, stage: int = 0, now_s: float = 0.0) -> None:
        if not 0 <= stage < len(stages.stages):
            raise ModelError(f"{stages.intersection.id!r}: no stage {stage}")
        self.stages = stages
        self.stage = stage
        self.target: int | None = None
        self.interval = Interval.GREEN
        self.interval_end_s = now_s
        self.green_start_s = now_s
        self.switches = 0

    @property
    def settled(self) -> bool:
        return self.interval is Interval.GREEN

    def green_s(self, now_s: float) -> float:
        return now_s - self.green_start_s if self.settled else 0.0

    def can_switch(self, now_s: float) -> bool:
        return self.settled and self.green_s(now_s) >= self.stages.min_green_of(self.stage) - 1e-9

    def request(self, stage: int, now_s: float) -> bool:
        if not 0 <= stage < len(self.stages.stages):
            raise ModelError(f"{self.stages.intersection.id!r}: no stage {stage}")
        if stage == self.stage or not self.can_switch(now_s):
            return False
        self.target = stage
        clearance = self.stages.clearance(self.stage, stage)
        if clearance.yellow_s > 0:
            self.interval, self.interval_end_s = Interval.YELLOW, now_s + clearance.yellow_s
        elif clearance.all_red_s > 0:
            self.interval, self.interval_end_s = Interval.ALL_RED, now_s + clearance.all_red_s
        else:
            self._start_green(now_s)
        return True

    def advance(self, now_s: float) -> bool:
        changed = False
        while not self.settled and now_s >= self.interval_end_s - 1e-9:
            assert self.target is not None
            all_red = self.stages.clearance(self.stage, self.target).all_red_s
            if self.interval is Interval.YELLOW and all_red > 0:
                self.interval, self.interval_end_s = Interval.ALL_RED, self.interval_end_s + all_red
            else:
                self._start_green(self.interval_end_s)
            changed = True
        return changed

    def _start_green(self, at_s: float) -> None:
        assert self.target is not None
        self.stage, self.target = self.target, None
        self.interval, self.green_start_s = Interval.GREEN, at_s
        self.switches += 1

    def state(self) -> str:
        """The SUMO state string shown now."""
        if self.settled:
            return self.stages.state(self.stage, Interval.GREEN)
        return self.stages.state(self.stage, self.interval, self.target)


def stage_sets(plans: Sequence[SignalPlan], intersections: dict[str, Intersection],
               rules: ValidationRules = DEFAULT_RULES) -> dict[str, StageSet]:
    """``stage_set_from_plan`` for every plan, keyed by intersection."""
    return {p.intersection: stage_set_from_plan(p, intersections[p.intersection], rules) for p in plans}
