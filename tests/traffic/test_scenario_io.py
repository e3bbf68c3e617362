"""Scenario and plan files: round trip, malformed input, plan application."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from traffic.errors import PlanValidationError, ScenarioError
from traffic.scenario_io import (
    builtin_scenarios,
    load_plan_file,
    load_scenario,
    save_plan_file,
    save_scenario,
    scenario_to_model,
)


def test_builtins_present():
    assert {"arterial", "grid", "isolated_x050", "isolated_x080", "isolated_x095"} <= set(builtin_scenarios())


def test_round_trip_hand_built(cross, tmp_path):
    path = tmp_path / "cross.json"
    save_scenario(cross, path)
    assert load_scenario(path) == cross


def test_round_trip_builtin(tmp_path):
    sc = load_scenario("arterial")
    save_scenario(sc, tmp_path / "a.json")
    assert load_scenario(tmp_path / "a.json") == sc


def _write(tmp_path, data):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["network"]["links"][0]["lanes"][0].update(length_m=-5), r"network\.links\[0\]\.lanes\[0\]\.length_m: "
                                                                          r"Input should be greater than 0"),
    (lambda d: d["intersections"][0]["plans"][0]["phases"][0].update(green_s="long"),
     r"intersections\[0\]\.plans\[0\]\.phases\[0\]\.green_s: Input should be a valid number"),
    (lambda d: d.update(colour="red"), r"colour: Extra inputs are not permitted"),
    (lambda d: d["demand"]["flows"][0].update(route="nowhere"), r"flow 'N_C>.*|unknown route 'nowhere'"),
    (lambda d: d["intersections"][0].update(active_plan="missing"), r"active plan 'missing' is not one of"),
    (lambda d: d["demand"]["routes"][0].update(links=["N_C", "C_N"]), r"no movement from link 'N_C' to link 'C_N'"),
    (lambda d: d.pop("network"), r"network: Field required"),
])
def test_malformed_scenario_names_the_field(cross, tmp_path, mutate, expected):
    data = scenario_to_model(cross).model_dump()
    mutate(data)
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(_write(tmp_path, data))


def test_not_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{ nope")
    with pytest.raises(ScenarioError, match=r"not valid JSON: .* line 1 column 3"):
        load_scenario(path)


def test_unknown_scenario_name():
    with pytest.raises(ScenarioError, match=r"no built-in scenario of that name.*arterial"):
        load_scenario("atlantis")


def test_plan_file_applies_only_named_intersections(tmp_path):
    sc = load_scenario("arterial").select_plan("greenwave")
    new = sc.active_plan("I3").with_offset(10.0)
    new = replace(new, name="mine")
    save_plan_file({"I3": new}, tmp_path / "p.json")
    plans = load_plan_file(tmp_path / "p.json", sc)
    applied = sc.with_plans(plans)
    assert applied.active_plan("I3").offset_s == 10.0 and applied.active_plans["I3"] == "mine"
    assert applied.active_plan("I2") == sc.active_plan("I2")


def test_unsafe_plan_file_changes_nothing(tmp_path):
    sc = load_scenario("arterial")
    plan = sc.active_plan("I1")
    bad = replace(plan, name="bad", phases=(replace(plan.phases[0], yellow_s=1.0), *plan.phases[1:]), cycle_s=88.0)
    save_plan_file({"I1": bad}, tmp_path / "p.json")
    with pytest.raises(PlanValidationError, match="yellow_s 1 s"):
        sc.with_plans(load_plan_file(tmp_path / "p.json", sc))
    assert sc.active_plans["I1"] == "zero" and "bad" not in sc.plans["I1"]


def test_plan_file_for_unknown_intersection(tmp_path):
    sc = load_scenario("arterial")
    save_plan_file({"I1": replace(sc.active_plan("I1"), intersection="I9")}, tmp_path / "p.json")
    with pytest.raises(ScenarioError, match=r"plans\[0\]\.intersection: unknown intersection 'I9'"):
        load_plan_file(tmp_path / "p.json", sc)
