"""Pedestrian crossings and the minimum green they need (HCM, MUTCD section 4E.06).

Every crossing must get its minimum green in every cycle: ``walk_s`` to start crossing (HCM default
7 s) plus the clearance to finish it, ``length_m / walking_speed_m_s`` (HCM default 1.2 m/s).

Crossings. A crossing runs across one *leg* of an intersection: the incoming and the outgoing
carriageway joining it to one neighbouring node, kerb to kerb, so its length is the sum of the
widths of those links' lanes (``Lane.width_m``; 3.2 m where the network does not say). Scenarios
derive one crossing per leg from the geometry (``crossings_from_geometry``) unless they declare
their own: the SUMO import takes the net's ``<crossing>`` edges where it has them (exactly those),
and a scenario file may list its crossings, or none (``"crossings": []``: no pedestrians there).

When a crossing may walk. The crossing over leg X may show WALK during a phase's green unless the
phase greens a movement whose path crosses it:

* any movement entering from X (vehicles leave the stop line across the crosswalk);
* a through movement or U-turn exiting onto X;
* a *protected turn arrow* exiting onto X. A permissive turn (``g``) yields to the pedestrians it
  crosses, and so does a turn on a circular green (Uniform Vehicle Code 11-202): a protected turn
  shown with another movement of its own approach (a right turn with its through movement; both
  turns of a T-junction's stem) is such a circular green. A protected turn is an arrow when it is
  the only movement of its approach that is green (a turn phase, a right-turn overlap), or when it
  is a left or U turn from an approach that faces an opposing through movement (its ``G`` can only
  mean that the opposing traffic is stopped for it: a protected left, which MUTCD 4D.05 forbids to
  run with the pedestrians it crosses). Right-hand traffic is assumed, as in SUMO's defaults.

The minimum must fit in one *run*: consecutive phases in which the crossing may walk count
together (a movement carried over keeps the crosswalk open), with the yellow and all-red between
them. By default the clearance must end with the green of the run's last phase (the walk and
flashing don't-walk are both shown while the parallel traffic has green); MUTCD allows the
pedestrian change interval to run into the vehicles' yellow and all-red, which
``clearance_in_change_interval`` permits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from traffic.errors import ModelError
from traffic.intersection import Crossing, Intersection, Movement, Turn
from traffic.network import Lane, Network
from traffic.safety_defaults import HCM_WALK_S, HCM_WALKING_SPEED_M_S
from traffic.signal_plan import Phase, SignalPlan


@dataclass(frozen=True, slots=True)
class PedestrianRules:
    """An agency's pedestrian timing rules (defaults: HCM).

    Attributes:
        walk_s: WALK shown before the clearance (HCM 7 s; 4 s where few pedestrians cross).
        walking_speed_m_s: speed the clearance is computed with (HCM 1.2 m/s; MUTCD 1.07 m/s, i.e.
            3.5 ft/s; lower near schools and homes for the elderly).
        clearance_in_change_interval: the clearance may end in the yellow and all-red of the run's
            last phase (MUTCD); default no: the green alone holds walk + clearance.
        enabled: False switches the pedestrian check off (a scenario without pedestrians should
            rather declare no crossings).
    """

    walk_s: float = HCM_WALK_S
    walking_speed_m_s: float = HCM_WALKING_SPEED_M_S
    clearance_in_change_interval: bool = False
    enabled: bool = True

    def __post_init__(self) -> None:
        if not math.isfinite(self.walk_s) or self.walk_s < 0:
            raise ModelError(f"walk_s (={self.walk_s}) must be a finite number >= 0")
        if not math.isfinite(self.walking_speed_m_s) or self.walking_speed_m_s <= 0:
            raise ModelError(f"walking_speed_m_s (={self.walking_speed_m_s}) must be a finite number > 0")

    def clearance_s(self, crossing: Crossing) -> float:
        return crossing.length_m / self.walking_speed_m_s

    def min_green_s(self, crossing: Crossing) -> float:
        """Walk + clearance of ``crossing``."""
        return self.walk_s + self.clearance_s(crossing)


HCM_PEDESTRIANS = PedestrianRules()


# --- crossings from the geometry ----------------------------------------------------------------

def crossings_from_geometry(network: Network, nodes: Iterable[str], movements: Iterable[Movement],
                            lane_counts: Callable[[str, Lane], bool] | None = None) -> tuple[Crossing, ...]:
    """One crossing per leg of the intersection over ``nodes``: the links joining it to one
    neighbouring node (incoming and outgoing), ``length_m`` the sum of their lanes' widths.

    Links between two of the intersection's own nodes (inside a SUMO cluster) are no leg. Only legs
    that a movement uses get a crossing. ``lane_counts(link_id, lane)`` says which lanes are
    carriageway (the SUMO import leaves out sidewalks); default every lane. Crossing ids are ``node:neighbour``.
    """
    own = set(nodes)
    used = set()
    for m in movements:
        used |= {m.from_link, m.to_link}
    legs: dict[tuple[str, str], list[str]] = {}
    for link in network.links.values():
        if link.to_node in own and link.from_node not in own:
            legs.setdefault((link.to_node, link.from_node), []).append(link.id)
        elif link.from_node in own and link.to_node not in own:
            legs.setdefault((link.from_node, link.to_node), []).append(link.id)
    out = []
    for (node, far), link_ids in sorted(legs.items()):
        if not set(link_ids) & used:
            continue
        length = sum(lane.width_m for lid in link_ids for lane in network.links[lid].lanes
                     if lane_counts is None or lane_counts(lid, lane))
        if length > 0:
            out.append(Crossing(f"{node}:{far}", tuple(sorted(link_ids)), round(length, 3)))
    return tuple(out)


# --- when a crossing may walk -------------------------------------------------------------------

def blocking_movements(phase: Phase, crossing: Crossing, intersection: Intersection) -> list[str]:
    """The green movements of ``phase`` whose paths cross ``crossing`` (see the module docstring)."""
    legs = set(crossing.links)
    out = []
    for mid in sorted(phase.green_movements):
        m = intersection.movements.get(mid)
        if m is not None and (m.from_link in legs or (m.to_link in legs and _exits_across(m, phase, intersection))):
            out.append(mid)
    return out


def may_walk(phase: Phase, crossing: Crossing, intersection: Intersection) -> bool:
    """Whether ``crossing`` may show WALK during ``phase``'s green."""
    return not blocking_movements(phase, crossing, intersection)


def _exits_across(m: Movement, phase: Phase, intersection: Intersection) -> bool:
    """Whether ``m``, exiting onto a crossed leg, keeps pedestrians from walking there."""
    if m.turn is Turn.THROUGH:
        return True
    if m.id in phase.permissive:
        return False  # a permissive turn yields to the pedestrians it crosses
    own_approach = [x for x in phase.green_movements
                    if x != m.id and x in intersection.movements and intersection.movements[x].from_link == m.from_link]
    if not own_approach:
        return True  # an arrow-only turn phase
    if m.turn is Turn.RIGHT:
        return False  # a right turn on a circular green
    return _faces_opposing_through(m, intersection)


def _faces_opposing_through(m: Movement, intersection: Intersection) -> bool:
    """Whether a through movement comes from an approach facing ``m``'s (the intersection's
    ``opposing_approaches``; where it knows none, from the leg opposite: a through movement onto
    ``m``'s own leg, the leg taken from the crossings; failing that any through movement in
    conflict with ``m``)."""
    opposite = {a for pair in intersection.opposing_approaches if m.from_link in pair for a in pair} - {m.from_link}
    leg = next((set(c.links) for c in intersection.crossings if m.from_link in c.links), None)
    for x in intersection.movements.values():
        if x.turn is not Turn.THROUGH or x.from_link == m.from_link:
            continue
        if intersection.opposing_approaches:
            hit = x.from_link in opposite
        elif leg is not None:
            hit = x.to_link in leg
        else:
            hit = intersection.in_conflict(m.id, x.id)
        if hit:
            return True
    return False


def walk_runs(plan: SignalPlan, crossing: Crossing, intersection: Intersection) -> list[tuple[int, ...]]:
    """Maximal runs of consecutive phases (cyclically) in which ``crossing`` may walk; one run of
    every phase when nothing ever crosses it, none when it may never walk."""
    open_ = [may_walk(p, crossing, intersection) for p in plan.phases]
    n = len(open_)
    if all(open_):
        return [tuple(range(n))]
    runs = []
    for start in range(n):
        if open_[start] and not open_[start - 1]:
            run = [start]
            while open_[(run[-1] + 1) % n]:
                run.append((run[-1] + 1) % n)
            runs.append(tuple(run))
    return runs


def _never_crossed(plan: SignalPlan, crossing: Crossing, intersection: Intersection) -> bool:
    return all(may_walk(p, crossing, intersection) for p in plan.phases)


def run_time_s(plan: SignalPlan, run: Sequence[int], rules: PedestrianRules) -> float:
    """Time ``run`` gives a pedestrian: its greens and the changes inside it (and the last phase's
    yellow and all-red when ``rules.clearance_in_change_interval``)."""
    phases = [plan.phases[i] for i in run]
    total = sum(p.duration_s for p in phases)
    if not rules.clearance_in_change_interval:
        total -= phases[-1].yellow_s + phases[-1].all_red_s
    return total


# --- checks -------------------------------------------------------------------------------------

def _label(plan: SignalPlan, index: int) -> str:
    name = plan.phases[index].name
    return f"phase {index} {name!r}" if name else f"phase {index}"


def _figures(crossing: Crossing, rules: PedestrianRules) -> str:
    return (f"{rules.walk_s:g} s walk + {crossing.length_m:g} m / {rules.walking_speed_m_s:g} m/s = "
            f"{rules.clearance_s(crossing):.1f} s clearance = {rules.min_green_s(crossing):.1f} s")


def describe(crossing: Crossing) -> str:
    return f"crossing {crossing.id!r} (over {', '.join(crossing.links)}, {crossing.length_m:g} m)"


def pedestrian_issues(plan: SignalPlan, intersection: Intersection, rules: PedestrianRules | None,
                      where: str) -> list[str]:
    """Every crossing of ``intersection`` that ``plan`` never lets walk, or lets walk for less than
    walk + clearance in some run of phases; each message names the plan (``where``), the phases,
    the crossing and the figures."""
    if rules is None or not rules.enabled:
        return []
    issues = []
    for c in intersection.crossings:
        runs = walk_runs(plan, c, intersection)
        if _never_crossed(plan, c, intersection):
            continue
        if not runs:
            blockers = sorted({m for p in plan.phases for m in blocking_movements(p, c, intersection)})
            issues.append(f"{where}: {describe(c)} never gets a walk: every phase greens a movement across it "
                          f"({', '.join(blockers)}); it needs {_figures(c, rules)}")
            continue
        need = rules.min_green_s(c)
        for run in runs:
            got = run_time_s(plan, run, rules)
            if got < need - 1e-6:
                phases = " + ".join(_label(plan, i) for i in run)
                issues.append(f"{where}: {describe(c)} gets {got:g} s in {phases} but needs {_figures(c, rules)}")
    return issues


def phase_pedestrian_issues(phase: Phase, intersection: Intersection, rules: PedestrianRules | None,
                            where: str) -> list[str]:
    """Stage control: ``phase`` (run alone, its green at ``green_s``) must hold walk + clearance of
    every crossing that may walk during it, since the next stage is not known in advance."""
    need = stage_min_green_s(phase, intersection, rules)
    have = phase.green_s
    if rules is not None and rules.clearance_in_change_interval:
        have += phase.yellow_s + phase.all_red_s
    if have >= need - 1e-6:
        return []
    assert rules is not None
    return [f"{where}: {describe(c)} gets {have:g} s but needs {_figures(c, rules)}"
            for c in intersection.crossings
            if may_walk(phase, c, intersection) and have < rules.min_green_s(c) - 1e-6]


def stage_min_green_s(phase: Phase, intersection: Intersection, rules: PedestrianRules | None) -> float:
    """The longest walk + clearance among the crossings that may walk during ``phase`` (0 if none,
    or with pedestrians off): the green a stage controller must give it."""
    if rules is None or not rules.enabled:
        return 0.0
    return max((rules.min_green_s(c) for c in intersection.crossings if may_walk(phase, c, intersection)),
               default=0.0)


def phase_min_greens_s(plan: SignalPlan, intersection: Intersection, rules: PedestrianRules | None,
                       vehicle_min_s: float) -> list[float]:
    """Per-phase minimum greens (whole seconds above ``vehicle_min_s``) that give every crossing its
    walk + clearance: any greens at least these pass ``pedestrian_issues``.

    A crossing's run of one phase puts its whole need on that phase; a longer run (carry-over) puts
    what the others' minimums and the changes inside the run leave on the phase with the longest
    green in ``plan``. Crossings that may never walk are left to the validator.
    """
    mins = [float(vehicle_min_s)] * len(plan.phases)
    if rules is None or not rules.enabled:
        return mins
    for c in intersection.crossings:
        if _never_crossed(plan, c, intersection):
            continue
        for run in walk_runs(plan, c, intersection):
            others_s = run_time_s(plan, run, rules) - sum(plan.phases[i].green_s for i in run)
            key = max(run, key=lambda i: plan.phases[i].green_s)
            need = rules.min_green_s(c) - others_s - sum(mins[i] for i in run if i != key)
            mins[key] = max(mins[key], float(math.ceil(need - 1e-9)))
    return mins
