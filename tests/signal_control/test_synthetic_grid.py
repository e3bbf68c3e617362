"""The programmatic grid matches the reference design and optimises to safe plans."""

from __future__ import annotations

import pytest

from signal_control.optimize import optimize
from signal_control.synthetic_grid import make_grid_scenario
from traffic.plan_validation import validate_plan
from traffic.scenario_io import load_scenario


def test_grid_shape_and_demand_follow_the_reference_design():
    sc = make_grid_scenario(5)
    ref = load_scenario("grid")
    assert len(sc.intersections) == len(ref.intersections) == 25
    assert len(sc.demand.flows) == len(ref.demand.flows) == 380          # every OD pair but U-turns
    assert sum(f.slices[0].flow_veh_h for f in sc.demand.flows) == pytest.approx(3000.0)
    # the same lane groups at an inner signal with 2-lane streets both ways
    ours = sorted(len(g.lanes) for g in sc.intersections["n1_1"].lane_groups)
    theirs = sorted(len(g.lanes) for g in ref.intersections["n1_1"].lane_groups)
    assert ours == theirs
    assert sc.validate_active_plans() == []


def test_small_grid_optimises_to_safe_plans():
    sc = make_grid_scenario(3, od_per_entry=5)
    r = optimize(sc, "delay")
    assert all(validate_plan(p, sc.intersections[i]) == [] for i, p in r.plans.items())
    assert r.predicted_pi is not None and r.predicted_pi > 0
