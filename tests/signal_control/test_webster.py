"""Webster cycle and splits against a worked example, over-saturation and bad demand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from signal_control.errors import InfeasibleDemandError, OptimizerError
from signal_control.movement_demand import movement_demand
from signal_control.params import SaturationFlows, TimingParams, WebsterParams
from signal_control.webster import webster_plan
from tests.factories import make_cross_scenario, mid

# Worked example (Webster, F. V. 1958, "Traffic signal settings", Road Research Technical Paper 39,
# HMSO: C0 = (1.5 L + 5) / (1 - Y), effective greens in proportion to the critical y), computed by hand:
#   saturation flow 1,800 veh/h per lane, turn equivalents 1;
#   N/S through+right lane 450 + 90 = 540 veh/h -> y = 0.30; N/S protected left 180 -> y = 0.10;
#   E/W through+right lane 270 + 90 = 360 -> y = 0.20;      E/W protected left 90  -> y = 0.05.
#   Y = 0.65. Each phase loses 2 s start-up + (3 s yellow - 2 s used) + 2 s all-red = 5 s, L = 20 s.
#   C0 = (1.5 * 20 + 5) / (1 - 0.65) = 100 s; effective green 80 s split 0.30:0.10:0.20:0.05
#   = 36.9 / 12.3 / 24.6 / 6.2 s; displayed G = g - 2 + 2; whole seconds with the largest
#   remainders -> 37 / 12 / 25 / 6 s (sum 80 = 100 - 4 x 5 s of yellow and all-red).
SAT = SaturationFlows(through_pcu_h=1800.0, left_protected_pcu_h=1800.0, right_pce=1.0, left_protected_pce=1.0)
# Webster's method alone: pedestrians' minimums are tested in test_webster_gives_each_crossing_its_walk_and_clearance
PARAMS = WebsterParams(min_cycle_s=30.0, max_cycle_s=150.0, saturation=SAT, refine_splits=False,
                       timing=TimingParams(startup_lost_s=2.0, yellow_used_s=2.0), pedestrians=None)


def example_flows(scale: float = 1.0) -> dict[str, float]:
    q = {}
    table = {"N": (450, 90, 180), "S": (450, 90, 180), "E": (270, 90, 90), "W": (270, 90, 90)}
    for a, (through, right, left) in table.items():
        q[mid(a, "s")], q[mid(a, "r")], q[mid(a, "l")] = through * scale, right * scale, left * scale
    return q


def run(flows: dict[str, float], params: WebsterParams = PARAMS):
    sc = make_cross_scenario()
    demand = movement_demand(sc, flows)
    return webster_plan(sc.network, sc.intersections["C"], sc.active_plan("C"), demand, params)


def test_worked_example_cycle_and_greens():
    r = run(example_flows())
    assert r.ratios.y.tolist() == pytest.approx([0.30, 0.10, 0.20, 0.05], abs=1e-12)
    assert r.ratios.total_lost_s == pytest.approx(20.0)
    assert r.webster_cycle_s == 100.0
    assert r.plan.cycle_s == 100.0
    assert [p.green_s for p in r.plan.phases] == [37.0, 12.0, 25.0, 6.0]
    assert [(p.yellow_s, p.all_red_s) for p in r.plan.phases] == [(3.0, 2.0)] * 4  # interphases kept
    assert not r.oversaturated and r.warnings == ()


def test_cycle_bounds_apply():
    light = run(example_flows(0.2))  # Y = 0.13 -> C0 = 40.2 s, above the 30-s minimum
    assert light.plan.cycle_s == 41.0
    bounded = run(example_flows(0.2), replace(PARAMS, min_cycle_s=60.0))
    assert bounded.plan.cycle_s == 60.0


def test_webster_gives_each_crossing_its_walk_and_clearance():
    """Light demand: Webster alone gives a 41-s cycle; with the HCM pedestrian rules each through
    phase holds its crossings' 7 s + 12.8 m / 1.2 m/s = 17.7 s (18 s in whole seconds) and the cycle
    grows to fit them (18 + 5 + 18 + 5 + 4 x 5 = 66 s), then on until no phase runs above Webster's
    degree of saturation (X = 0.13 x 41 / 21 = 0.254): at 66 s the NS left (y = 0.02, 5 s) is at
    0.264; at 68 s it gets 6 s (0.227)."""
    from traffic.pedestrians import HCM_PEDESTRIANS
    from traffic.plan_validation import validate_plan

    r = run(example_flows(0.2), replace(PARAMS, pedestrians=HCM_PEDESTRIANS))
    assert r.plan.cycle_s == 68.0
    assert [p.green_s for p in r.plan.phases] == [19.0, 6.0, 18.0, 5.0]
    assert validate_plan(r.plan, make_cross_scenario().intersections["C"]) == []
    assert run(example_flows(0.2)).plan.cycle_s == 41.0  # the same without pedestrians


def test_split_refinement_keeps_the_cycle_and_lowers_the_predicted_delay():
    plain = run(example_flows())
    refined = run(example_flows(), replace(PARAMS, refine_splits=True))
    assert refined.plan.cycle_s == plain.plan.cycle_s
    assert refined.predicted_delay_s <= plain.predicted_delay_s
    assert all(p.green_s >= PARAMS.min_green_s for p in refined.plan.phases)


def test_oversaturation_uses_longest_cycle_with_a_warning():
    r = run(example_flows(1.45))  # Y = 0.9425
    assert r.oversaturated and r.plan.cycle_s == PARAMS.max_cycle_s
    assert "over-saturated" in r.warnings[0]
    greens = [p.green_s for p in r.plan.phases]
    # balanced v/c: greens in proportion to the critical y (within rounding)
    assert greens[0] / greens[2] == pytest.approx(0.30 / 0.20, rel=0.05)


@pytest.mark.parametrize(("flows", "error", "words"), [
    (lambda f: {k: v * 1.6 for k, v in f.items()}, InfeasibleDemandError, "Y=1.04"),      # Y >= 1 cannot be served
    (lambda f: {k: 0.0 for k in f}, OptimizerError, "no demand"),                          # nothing to serve
    (lambda f: {**f, mid("N", "s"): -5.0}, OptimizerError, "must be a finite number >= 0"),  # negative flow
    (lambda f: {**f, "nowhere>x": 5.0}, OptimizerError, "unknown movements"),              # unknown movement
])
def test_bad_demand_gives_clear_errors(flows, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        run(flows(example_flows()))


def test_demand_from_scenario_flows_and_counts_agree():
    from traffic.counts import IntervalCounts

    sc = make_cross_scenario(flow_veh_h=300.0)
    from_flows = movement_demand(sc)
    per_class = {m: {"car": 75, "motorcycle": 100} for m in sc.intersections["C"].movements}
    counts = IntervalCounts("cam", 0.0, 900.0, per_class)
    from_counts = movement_demand(sc, [counts])
    m = mid("N", "s")
    assert from_flows[m].veh_h == pytest.approx(300.0)
    assert from_counts[m].veh_h == pytest.approx(700.0)
    assert from_counts[m].pcu_h == pytest.approx(300.0 + 400 * 0.3)


def test_motorbikes_count_in_pcu():
    """Mixed traffic: 1,000 motorbikes/h at 0.3 PCU load a lane like 300 cars/h."""
    from traffic.counts import IntervalCounts

    sc = make_cross_scenario()
    cars = {m: {"car": 75} for m in sc.intersections["C"].movements}
    bikes = {m: {"motorcycle": 250} for m in sc.intersections["C"].movements}
    inter, plan = sc.intersections["C"], sc.active_plan("C")
    y_cars = webster_plan(sc.network, inter, plan, movement_demand(sc, [IntervalCounts("cam", 0, 900, cars)]),
                          PARAMS).ratios.y
    y_bikes = webster_plan(sc.network, inter, plan, movement_demand(sc, [IntervalCounts("cam", 0, 900, bikes)]),
                           PARAMS).ratios.y
    assert y_bikes.tolist() == pytest.approx(y_cars.tolist())


def test_lane_group_saturation_override():
    """A lane group's own saturation flow replaces the default (here: half of it, so y doubles)."""
    from tests.factories import cross_conflicts
    from traffic.scenario_io import make_intersection

    sc = make_cross_scenario()
    group = next(g.id for g in sc.intersections["C"].lane_groups if mid("N", "s") in g.movements)
    inter = make_intersection(sc.network, "C", ("C",), conflicts=cross_conflicts(),
                              saturation_flow_veh_h={group: 900.0})
    demand = movement_demand(sc, example_flows())
    base = webster_plan(sc.network, sc.intersections["C"], sc.active_plan("C"), demand, PARAMS)
    slow = webster_plan(sc.network, inter, sc.active_plan("C"), demand, PARAMS)
    assert slow.ratios.y[0] == pytest.approx(2 * base.ratios.y[0])
    assert slow.ratios.critical_group[0] == group
