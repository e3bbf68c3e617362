"""The closed loop's pieces: camera outage -> failsafe -> recovery in a simulated run, the safety
audit, the predicted-gain threshold, and the delay series."""

from __future__ import annotations

import math

import pytest

from greenwave.demo.runs import CameraOutage, SafetyAudit, delay_series, run_adaptive
from signal_control.adaptive import AdaptiveController, AdaptiveParams, TimeOfDayPlan
from simulation import Simulation
from traffic.control import SignalState
from traffic.counts import Health, IntervalCounts
from traffic.scenario_io import load_scenario


@pytest.fixture(scope="module")
def timevarying():
    return load_scenario("arterial_timevarying")


def _states(sc):
    return {iid: SignalState(iid, sc.active_plan(iid), 90.0) for iid in sc.intersections}


def _counts(sc, now, flow_veh_h):
    n = int(flow_veh_h * 300 / 3600)
    return {iid: IntervalCounts(f"cam:{iid}", now - 300, 300, {m: {"car": n} for m in inter.movements},
                                intersection=iid) for iid, inter in sc.intersections.items()}


def test_camera_outage_falls_back_and_recovers_in_the_loop(timevarying):
    tod = [TimeOfDayPlan(0.0, "day", timevarying.active_plan_set())]
    outage = CameraOutage("I3", 900.0, 1800.0)
    r = run_adaptive(timevarying, tod, seed=2, params=AdaptiveParams(), duration_s=3000.0, outage=outage)
    mine = [e for e in r.events if e["intersection"] == "I3"]
    assert [e["event"] for e in mine] == ["failsafe", "adaptive"]
    assert mine[0]["time_s"] == 1200.0 and mine[0]["reason"] == "counts missing"  # first interval without counts
    assert mine[1]["time_s"] == 2400.0  # two healthy intervals (2100, 2400) after the counts return
    assert r.unsafe == [] and r.plans_checked > 0


def test_failsafe_keeps_the_others_on_the_fallback_cycle(timevarying):
    """While I4 runs its time-of-day plan, the re-optimised plans of the others share its cycle."""
    tod = [TimeOfDayPlan(0.0, "day", timevarying.active_plan_set())]
    ctl = AdaptiveController(timevarying, tod, AdaptiveParams(min_gain=0.0))
    counts = _counts(timevarying, 300.0, 120.0)
    del counts["I4"]
    out = ctl.decide(300.0, counts, _states(timevarying))
    assert ctl.modes["I4"] == "failsafe"
    assert {seq[-1].cycle_s for seq in out.values()} == {timevarying.active_plan("I4").cycle_s}


def test_small_predicted_gain_keeps_the_running_plans(timevarying):
    best = AdaptiveController(timevarying, [TimeOfDayPlan(0.0, "d", timevarying.active_plan_set())],
                              AdaptiveParams(min_gain=0.0, min_observed_s=0.0))
    plans = {iid: seq[-1] for iid, seq in best.decide(300.0, _counts(timevarying, 300.0, 120.0),
                                                      _states(timevarying)).items()}
    # a controller already running those plans, on the same demand, sees no gain worth a change
    ctl = AdaptiveController(timevarying, [TimeOfDayPlan(0.0, "d", plans)],
                             AdaptiveParams(min_gain=0.05, min_observed_s=0.0))
    states = {iid: SignalState(iid, p, 60.0) for iid, p in plans.items()}
    assert ctl.decide(300.0, _counts(timevarying, 300.0, 120.0), states) == {}
    assert ctl.decisions[-1].event == "kept" and "predicted gain" in ctl.decisions[-1].reason
    assert ctl.events == []  # events are mode changes only


def test_safety_audit_reports_an_unsafe_plan(timevarying):
    plan = timevarying.active_plan("I1")
    unsafe = plan.with_greens([1.0] * len(plan.phases))  # below the 5-s minimum green

    class Bad:
        def decide(self, now_s, counts, signals):
            return {"I1": [unsafe]}

    audit = SafetyAudit(Bad(), timevarying)
    audit.decide(300.0, {}, {})
    assert audit.checked == 1 and audit.problems and "I1" in audit.problems[0]


def test_camera_outage_filter():
    outage = CameraOutage("I3", 600.0, 1200.0)
    counts = {"I3": object(), "I4": object()}
    assert set(outage.filter(600.0, counts)) == {"I3", "I4"}  # interval ending at 600 was counted before
    assert set(outage.filter(900.0, counts)) == {"I4"}
    assert set(outage.filter(1200.0, counts)) == {"I4"}
    assert set(outage.filter(1500.0, counts)) == {"I3", "I4"}


def test_delay_series_bins_by_departure(timevarying):
    sim = Simulation(timevarying, seed=1, duration_s=1800.0).run()
    series = delay_series(sim, bin_s=600.0)
    assert len(series) == 3 and all(math.isfinite(x) and x > 0 for x in series)


def test_camera_feed_replaces_one_intersection_with_flows_kept(timevarying):
    from greenwave.demo.runs import CameraFeed

    inter = timevarying.intersections["I2"]
    m = sorted(inter.movements)[0]
    cam = (IntervalCounts("cam:I2", 0.0, 60.0, {m: {"car": 10, "motorcycle": 20}}, intersection="I2"),
           IntervalCounts("cam:I2", 60.0, 60.0, {m: {"car": 5}}, intersection="I2", health=Health.FROZEN))
    feed = CameraFeed("I2", cam)
    sim = _counts(timevarying, 300.0, 120.0)
    out = feed.filter(300.0, sim)
    assert out["I1"] is sim["I1"]
    got = out["I2"]
    assert (got.start_s, got.duration_s, got.intersection) == (0.0, 300.0, "I2")
    assert got.flow_veh_h(m) == pytest.approx(cam[0].flow_veh_h(m))  # 30 veh / min = 1,800 veh/h both ways
    assert feed.filter(600.0, _counts(timevarying, 600.0, 120.0))["I2"].health is Health.FROZEN  # next interval
    assert feed.filter(900.0, _counts(timevarying, 900.0, 120.0))["I2"].counts[m]["car"] == 50  # looped


def test_bad_camera_feed_sends_its_intersection_to_failsafe(timevarying):
    from greenwave.demo.runs import CameraFeed

    frozen = IntervalCounts("cam:I5", 0.0, 60.0, {}, intersection="I5", health=Health.FROZEN)
    tod = [TimeOfDayPlan(0.0, "day", timevarying.active_plan_set())]
    r = run_adaptive(timevarying, tod, seed=1, params=AdaptiveParams(), duration_s=1200.0,
                     camera=CameraFeed("I5", (frozen,)))
    assert [(e["intersection"], e["event"]) for e in r.events] == [("I5", "failsafe")]
    assert "frozen" in r.events[0]["reason"] and r.unsafe == []


def test_an_outage_puts_its_signal_on_recall_and_keeps_the_others_advance_detectors(timevarying):
    """Under an outage the coordinated-actuated layer still asks for its advance detectors (the other
    signals keep serving side streets between platoons), and only the outage's signal is on recall."""
    from greenwave.demo.runs import actuated_spec
    from signal_control.coordinated_actuated import ActuatedParams

    outage = CameraOutage("I3", 600.0, 1200.0)
    spec = actuated_spec(timevarying, ActuatedParams(), outage)
    assert spec.controller.advance_range_m == ActuatedParams().free_range_m
    sim = Simulation(timevarying, 1, duration_s=900.0, stage_control=spec)
    sim.run()
    assert sim.stage_control.advance is not None
    assert spec.controller.inner.recall == {"I3"}, "at 900 s the camera of I3 is out"
