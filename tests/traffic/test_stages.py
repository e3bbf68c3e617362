"""Stage control: stages from a program, validated moves, and the signal head's timing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories import mid, ns_ew_plan
from traffic.errors import ModelError, PlanValidationError
from traffic.plan_validation import ValidationRules
from traffic.signal_plan import Interval, Phase, SignalPlan
from traffic.stages import StageSignal, stage_set_from_plan


def _with_links(cross):
    """The cross intersection with one SUMO link index per movement."""
    inter = cross.intersections["C"]
    return replace(inter, signal_links=tuple(sorted(inter.movements)))


def test_stages_are_the_programs_green_phases(cross):
    inter = _with_links(cross)
    stages = stage_set_from_plan(ns_ew_plan(), inter)
    assert [s.name for s in stages.stages] == ["NS_through", "NS_left", "EW_through", "EW_left"]
    assert (stages.yellow_s, stages.all_red_s, stages.min_green_s) == (3.0, 2.0, 5.0)
    ns = stages.state(0, Interval.GREEN)
    for k, m in enumerate(inter.signal_links):
        assert ns[k] == ("G" if m in stages.stages[0].green_movements else "r")
    clearing = stages.state(0, Interval.YELLOW, 2)
    assert set(clearing) <= {"y", "r"} and "y" in clearing


def test_movement_green_in_both_stages_stays_green_through_the_clearance(cross):
    inter = _with_links(cross)
    rights = frozenset([mid("N", "r"), mid("S", "r")])
    plan = SignalPlan("C", "overlap", 5 * 20.0, 0.0, (
        Phase("NS", 15.0, 3.0, 2.0, protected=rights | {mid("N", "s"), mid("S", "s")}),
        Phase("NS_rights", 15.0, 3.0, 2.0, protected=rights),
        Phase("NS_left", 15.0, 3.0, 2.0, protected=frozenset(mid(a, "l") for a in "NS")),
        Phase("EW", 15.0, 3.0, 2.0, protected=frozenset(mid(a, t) for a in "EW" for t in "rs")),
        Phase("EW_left", 15.0, 3.0, 2.0, protected=frozenset(mid(a, "l") for a in "EW"))))
    stages = stage_set_from_plan(plan, inter)
    yellow = stages.state(0, Interval.YELLOW, 1)
    all_red = stages.state(0, Interval.ALL_RED, 1)
    for k, m in enumerate(inter.signal_links):
        if m in rights:
            assert yellow[k] == "G" and all_red[k] == "G"  # carried over: no yellow, no red
        elif m in (mid("N", "s"), mid("S", "s")):
            assert yellow[k] == "y" and all_red[k] == "r"
        else:
            assert yellow[k] == "r" and all_red[k] == "r"


def test_unsafe_stage_is_refused_with_every_reason(cross):
    inter = cross.intersections["C"]
    bad = ns_ew_plan().phases
    clash = Phase("clash", 20.0, 3.0, 2.0, protected=frozenset([mid("N", "s"), mid("E", "s")]))
    plan = SignalPlan("C", "bad", 0.0 + sum(p.duration_s for p in bad) + clash.duration_s, 0.0, (*bad, clash))
    with pytest.raises(PlanValidationError) as err:
        stage_set_from_plan(plan, inter)
    assert any("both protected" in issue for issue in err.value.issues)


def test_movement_in_no_stage_is_refused(cross):
    inter = cross.intersections["C"]
    plan = ns_ew_plan()
    partial = SignalPlan("C", "partial", sum(p.duration_s for p in plan.phases[:3]), 0.0, plan.phases[:3])
    with pytest.raises(PlanValidationError, match="is in no stage"):
        stage_set_from_plan(partial, inter)


def test_single_stage_plan_cannot_run_stage_control(cross):
    inter = cross.intersections["C"]
    one = SignalPlan("C", "one", 30.0, 0.0, (Phase("all", 27.0, 3.0, 0.0, protected=frozenset([mid("N", "s")])),))
    with pytest.raises(ModelError, match="at least two stages"):
        stage_set_from_plan(one, inter)


def test_signal_head_keeps_min_green_then_runs_yellow_and_all_red(cross):
    # the vehicle minimum alone (pedestrians' walk + clearance: tests/traffic/test_pedestrians.py)
    stages = stage_set_from_plan(ns_ew_plan(), cross.intersections["C"], ValidationRules(pedestrians=None))
    head = StageSignal(stages, 0, now_s=100.0)
    assert not head.request(2, 104.0)  # before the 5-s minimum green: refused
    assert head.stage == 0 and head.settled
    assert head.request(2, 105.0)
    assert head.interval is Interval.YELLOW and head.state() == stages.state(0, Interval.YELLOW, 2)
    assert not head.request(1, 106.0)  # no new request while clearing
    assert not head.advance(107.9)
    assert head.advance(108.0) and head.interval is Interval.ALL_RED
    assert head.advance(110.0) and head.settled and head.stage == 2
    assert head.green_s(112.0) == pytest.approx(2.0)
    assert head.state() == stages.state(2, Interval.GREEN)
    assert head.switches == 1


def test_signal_head_switches_at_once_when_nothing_ends(cross):
    inter = cross.intersections["C"]
    rights = frozenset([mid("N", "r"), mid("S", "r")])
    plan = SignalPlan("C", "lead", 4 * 25.0, 0.0, (
        Phase("NS_rights", 25.0, 0.0, 0.0, protected=rights, carry_over=rights),
        Phase("NS", 20.0, 3.0, 2.0, protected=rights | {mid("N", "s"), mid("S", "s")}),
        Phase("NS_left", 20.0, 3.0, 2.0, protected=frozenset(mid(a, "l") for a in "NS")),
        Phase("EW", 10.0, 3.0, 2.0, protected=frozenset(mid(a, t) for a in "EW" for t in "rs")),
        Phase("EW_left", 10.0, 3.0, 2.0, protected=frozenset(mid(a, "l") for a in "EW"))))
    head = StageSignal(stage_set_from_plan(plan, inter), 0, 0.0)
    assert head.request(1, 10.0) and head.settled and head.stage == 1 and head.green_s(10.0) == 0.0


def test_every_ingolstadt7_program_gives_safe_stages(resco):
    from traffic.stages import stage_sets
    from traffic.sumo import import_sumocfg

    scenario = import_sumocfg(resco / "ingolstadt7.sumocfg")
    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    assert len(sets) == 7
    assert sorted(len(s.stages) for s in sets.values()) == [2, 3, 3, 3, 3, 3, 4]
    assert all(s.yellow_s == 3.0 and s.all_red_s == 0.0 for s in sets.values())
