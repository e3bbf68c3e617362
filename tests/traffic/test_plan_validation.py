"""Each safety rule: a bad plan that must be rejected (with the phase and movement named) and a
good one that must pass. Uses the real isolated intersection imported from SUMO and a hand-built
cross with the same phasing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories import mid, ns_ew_plan
from traffic.errors import ModelError, PlanValidationError
from traffic.plan_validation import ValidationRules, check_plan, validate_plan
from traffic.scenario_io import load_scenario
from traffic.signal_plan import Phase


@pytest.fixture(scope="module")
def isolated():
    return load_scenario("isolated_x080")


def _with_phase(plan, index, **changes):
    phases = list(plan.phases)
    phases[index] = replace(phases[index], **changes)
    total = sum(p.duration_s for p in phases)
    return replace(plan, phases=tuple(phases), cycle_s=total)


def test_reference_plans_are_safe(isolated):
    for iid, inter in isolated.intersections.items():
        assert validate_plan(isolated.active_plan(iid), inter) == []


def test_good_hand_built_plan_passes(cross):
    plan = cross.active_plan("C")
    assert check_plan(plan, cross.intersections["C"]) is plan


def test_conflicting_protected_movements_rejected(isolated):
    plan = isolated.active_plan("C")
    # give the E-W through to the N-S through phase: crossing movements both G
    bad = _with_phase(plan, 0, protected=plan.phases[0].protected | {"E_C>C_W"})
    issues = validate_plan(bad, isolated.intersections["C"])
    assert any("phase 0 'NS_through'" in i and "E_C>C_W" in i and "both protected" in i for i in issues), issues


def test_permissive_left_with_opposing_through_is_allowed(isolated):
    plan = isolated.active_plan("C")
    # the N left may run permissively (g) with the N-S through: it yields to the opposing through
    ok = _with_phase(plan, 0, permissive=frozenset({"N_C>C_E"}))
    assert validate_plan(ok, isolated.intersections["C"]) == []


def test_permissive_through_crossing_from_the_side_rejected(isolated):
    plan = isolated.active_plan("C")
    # N through made permissive beside the protected E-W through: crossing through streams are never
    # green together, whatever SUMO's right-of-way (response) bits say
    bad = _with_phase(plan, 2, permissive=frozenset({"N_C>C_S"}))
    issues = validate_plan(bad, isolated.intersections["C"])
    assert any("phase 2 'EW_through'" in i and "N_C>C_S" in i and "E_C>C_W" in i
               and "through movement never yields" in i for i in issues), issues


def test_permissive_left_without_yield_rule_rejected(isolated):
    plan = isolated.active_plan("C")
    inter = isolated.intersections["C"]
    # the N left against the opposing through is compatible, but only if the net says it yields
    no_rule = replace(inter, yields=frozenset(p for p in inter.yields if p != ("N_C>C_E", "S_C>C_N")))
    bad = _with_phase(plan, 0, permissive=frozenset({"N_C>C_E"}))
    issues = validate_plan(bad, no_rule)
    assert any("phase 0 'NS_through'" in i and "'N_C>C_E'" in i and "'S_C>C_N'" in i and "no rule to yield" in i
               for i in issues), issues


@pytest.mark.parametrize(("green_s", "ok"), [(4.9, False), (5.0, True)])
def test_min_green(isolated, green_s, ok):
    plan = _with_phase(isolated.active_plan("C"), 1, green_s=green_s)
    issues = validate_plan(plan, isolated.intersections["C"])
    assert (issues == []) is ok, issues
    if not ok:
        assert "phase 1 'NS_left'" in issues[0] and "minimum green 5 s" in issues[0] and "N_C>C_E" in issues[0]


def test_min_green_is_configurable(isolated):
    plan = isolated.active_plan("C")
    assert validate_plan(plan, isolated.intersections["C"], ValidationRules(min_green_s=12)) != []


@pytest.mark.parametrize(("yellow_s", "ok"), [(2.5, False), (3.0, True)])
def test_min_yellow(isolated, yellow_s, ok):
    plan = _with_phase(isolated.active_plan("C"), 0, yellow_s=yellow_s)
    issues = validate_plan(plan, isolated.intersections["C"])
    assert (issues == []) is ok, issues
    if not ok:
        assert "yellow_s 2.5 s is below the minimum 3 s" in issues[0] and "N_C>C_S" in issues[0]


def test_all_red_rule(isolated):
    plan = _with_phase(isolated.active_plan("C"), 0, all_red_s=0.5)
    inter = isolated.intersections["C"]
    assert validate_plan(plan, inter) == []  # default minimum all-red is 0 s
    issues = validate_plan(plan, inter, ValidationRules(min_all_red_s=1.0))
    assert len(issues) == 1 and "phase 0 'NS_through': all_red_s 0.5 s is below the minimum 1 s" in issues[0]
    assert validate_plan(isolated.active_plan("C"), inter, ValidationRules(min_all_red_s=2.0)) == []


def test_phases_must_sum_to_cycle(isolated):
    plan = replace(isolated.active_plan("C"), cycle_s=95.0)
    issues = validate_plan(plan, isolated.intersections["C"])
    assert issues == ["plan '0' of 'C': phases sum to 90 s but cycle_s is 95 s"]


def test_movement_that_never_gets_green(isolated):
    plan = isolated.active_plan("C")
    bad = _with_phase(plan, 1, protected=frozenset({"N_C>C_E"}))  # S left dropped
    issues = validate_plan(bad, isolated.intersections["C"])
    assert issues == ["plan '0' of 'C': movement 'S_C>C_W' never gets green"]


def test_unknown_movement(isolated):
    bad = _with_phase(isolated.active_plan("C"), 0, protected=frozenset({"nowhere"}))
    issues = validate_plan(bad, isolated.intersections["C"])
    assert issues == ["plan '0' of 'C': phase 0 'NS_through' names unknown movement 'nowhere'"]


def test_carry_over_must_stay_green(cross):
    plan = cross.active_plan("C")
    # N right carried over into the NS_left phase, where it is not green: it would go red unannounced
    bad = _with_phase(plan, 0, carry_over=frozenset({mid("N", "r")}))
    issues = validate_plan(bad, cross.intersections["C"])
    assert any("carried over but not green in the next phase" in i and mid("N", "r") in i for i in issues)
    # served permissively in the next phase (yielding to the protected S left), it is safe
    good = _with_phase(bad, 1, permissive=frozenset({mid("N", "r")}))
    assert validate_plan(good, cross.intersections["C"]) == []


def test_check_plan_raises_with_every_issue(cross):
    plan = _with_phase(ns_ew_plan(green_s=3.0), 0, yellow_s=1.0)
    with pytest.raises(PlanValidationError) as err:
        check_plan(plan, cross.intersections["C"])
    vehicle = [i for i in err.value.issues if "crossing" not in i]
    assert len(vehicle) == 3  # two short greens, one short yellow
    assert sum("crossing" in i for i in err.value.issues) == 4  # and each crossing's walk + clearance


def test_plan_for_another_intersection(cross):
    plan = replace(cross.active_plan("C"), intersection="X")
    assert "plan is for intersection 'X'" in validate_plan(plan, cross.intersections["C"])[0]


@pytest.mark.parametrize("kwargs", [dict(green_s=-1.0), dict(yellow_s=float("nan")),
                                    dict(protected={"a"}, permissive={"a"}), dict(carry_over={"b"})])
def test_phase_field_errors(kwargs):
    base = dict(name="p", green_s=10.0, yellow_s=3.0, all_red_s=0.0)
    with pytest.raises(ModelError):
        Phase(**{**base, **kwargs})
