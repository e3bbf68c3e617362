"""The adaptive controller's demand estimate: smoothing, its sampling noise, the drift test that decides
whether re-planning is warranted, and the residual queue; and the controller's use of them (no plan from
one short interval, no plan change on noise, a re-plan when demand has truly moved)."""

from __future__ import annotations

import numpy as np
import pytest

from signal_control.adaptive import AdaptiveController, AdaptiveParams, TimeOfDayPlan
from signal_control.demand_estimate import (
    DemandEstimate,
    chi2_quantile,
    drift_statistic,
    residual_queue_veh,
)
from traffic.control import SignalState
from traffic.counts import IntervalCounts


@pytest.mark.parametrize(("df", "exact"), [(3, 11.3449), (12, 26.2170), (40, 63.6907)])
def test_chi2_quantile_matches_the_exact_99th_percentile_within_one_percent(df, exact):
    assert chi2_quantile(df, 0.99) == pytest.approx(exact, rel=0.01)


def test_first_intervals_are_averaged_alike_then_smoothed_exponentially():
    est = DemandEstimate(horizon_s=600.0)
    est.update(300.0, {"m": 100.0}, {"m": 100.0})
    assert est.veh_h["m"] == 100.0 and est.variance_weight_per_s == pytest.approx(1 / 300)
    est.update(300.0, {"m": 300.0}, {"m": 150.0})
    assert est.veh_h["m"] == pytest.approx(200.0), "plain mean of the first two (600 s: one horizon)"
    assert est.pcu_h["m"] == pytest.approx(125.0)
    assert est.variance_weight_per_s == pytest.approx(1 / 600), "two equal intervals: as one of 600 s"
    est.update(300.0, {"m": 200.0}, {"m": 200.0})
    alpha = 1 - np.exp(-0.5)
    assert est.veh_h["m"] == pytest.approx(200.0) and est.observed_s == 900.0
    assert est.variance_weight_per_s == pytest.approx((1 - alpha) ** 2 / 600 + alpha ** 2 / 300)


def _sampled(rng, design, factor, seconds):
    return {m: rng.poisson(q * factor * seconds / 3600) * 3600 / seconds for m, q in design.items()}


def test_the_drift_test_keeps_still_demand_and_finds_a_twenty_percent_growth():
    rng = np.random.default_rng(7)
    design = {f"m{i}": q for i, q in enumerate([60, 140, 320, 320, 140, 60, 60, 140, 320, 320, 140, 60])}
    limit = chi2_quantile(12, 0.99)
    still = [drift_statistic(_sampled(rng, design, 1.0, 900), design, 1 / 900)[0] > limit for _ in range(400)]
    grown = [drift_statistic(_sampled(rng, design, 1.2, 900), design, 1 / 900)[0] > limit for _ in range(400)]
    grown_30 = [drift_statistic(_sampled(rng, design, 1.2, 1800), design, 1 / 1800)[0] > limit for _ in range(400)]
    assert np.mean(still) <= 0.03, "false alarms near the 1 % level"
    assert np.mean(grown) >= 0.6, "+20 % is found from 15 minutes of counts more often than not"
    assert np.mean(grown_30) >= 0.9, "and almost always from 30 minutes"


def test_the_residual_queue_is_what_one_red_does_not_explain():
    assert residual_queue_veh(5.0, 360.0, 60.0) == 0.0, "360 veh/h for 60 s of red: 6 vehicles queue every cycle"
    assert residual_queue_veh(20.0, 360.0, 60.0) == pytest.approx(14.0)


def _interval(sc, now_s, flows_veh_h, seconds=300.0):
    out = {}
    for iid, inter in sc.intersections.items():
        counts = {m: {"car": round(flows_veh_h[m] * seconds / 3600)} for m in inter.movements}
        out[iid] = IntervalCounts(f"cam:{iid}", now_s - seconds, seconds, counts, intersection=iid)
    return out


def test_the_controller_plans_on_no_less_than_min_observed_s_and_keeps_plans_on_still_demand(cross):
    plan = cross.active_plan("C")
    design = dict.fromkeys(cross.intersections["C"].movements, 300.0)
    states = {"C": SignalState("C", plan, 90.0)}
    ctl = AdaptiveController(cross, [TimeOfDayPlan(0.0, "day", {"C": plan}, design)],
                             AdaptiveParams(reoptimize_every_s=300.0))
    for k in (1, 2):
        assert ctl.decide(300.0 * k, _interval(cross, 300.0 * k, design), states) == {}
        assert ctl.decisions == [], "600 s of counts: too early to judge"
    assert ctl.decide(900.0, _interval(cross, 900.0, design), states) == {}
    assert "within sampling noise" in ctl.decisions[-1].reason, "demand as designed: the plans stay"


def test_the_controller_replans_when_demand_has_moved_from_the_design(cross):
    plan = cross.active_plan("C")
    movements = list(cross.intersections["C"].movements)
    design = dict.fromkeys(movements, 300.0)
    moved = {m: (420.0 if m.startswith(("N_", "S_")) else 150.0) for m in movements}
    states = {"C": SignalState("C", plan, 90.0)}
    ctl = AdaptiveController(cross, [TimeOfDayPlan(0.0, "day", {"C": plan}, design)],
                             AdaptiveParams(reoptimize_every_s=300.0))
    out = {}
    for k in (1, 2, 3):
        out = ctl.decide(300.0 * k, _interval(cross, 300.0 * k, moved), states)
    assert set(out) == {"C"}, "north-south up 40 %, east-west halved: a new plan"
    new = ctl.target_plans()["C"]
    ns = next(p for p in new.phases if p.name == "NS_through").green_s
    ew = next(p for p in new.phases if p.name == "EW_through").green_s
    assert ns > ew


def test_without_a_design_demand_the_first_plan_comes_after_min_observed_s(cross):
    plan = cross.active_plan("C")
    flows = dict.fromkeys(cross.intersections["C"].movements, 300.0)
    states = {"C": SignalState("C", plan, 90.0)}
    ctl = AdaptiveController(cross, [TimeOfDayPlan(0.0, "day", {"C": plan})],
                             AdaptiveParams(reoptimize_every_s=300.0, min_gain=0.0))
    assert ctl.decide(300.0, _interval(cross, 300.0, flows), states) == {}
    assert ctl.decide(600.0, _interval(cross, 600.0, flows), states) == {}
    assert set(ctl.decide(900.0, _interval(cross, 900.0, flows), states)) == {"C"}


def test_a_movement_without_counts_keeps_its_estimate():
    est = DemandEstimate(horizon_s=600.0)
    est.update(300.0, {"a": 100.0, "b": 200.0}, {"a": 100.0, "b": 200.0})
    est.update(300.0, {"a": 300.0}, {"a": 300.0})
    assert est.veh_h == {"a": pytest.approx(200.0), "b": 200.0} and est.pcu_h["b"] == 200.0
