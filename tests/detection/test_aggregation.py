"""Interval aggregation: events binned by stream time, flows in veh/h and PCU/h, health per interval."""

from __future__ import annotations

import pytest

from detection.aggregation import IntervalAggregator
from detection.counting import CountEvent, Direction
from traffic.counts import Health, IntervalCounts


def event(t, key="N_through", cls="car", track=1):
    return CountEvent("north", Direction.IN, key, track, cls, int(t * 10), t)


def test_flows_per_interval_in_veh_h_and_pcu_h():
    agg = IntervalAggregator("cam1", 60.0, keys=["N_through", "S_through"], intersection="I1")
    for i in range(10):
        agg.add_health(i * 6.0, Health.OK)
    for t, cls in [(1, "car"), (2, "car"), (3, "motorcycle"), (4, "bus"), (30, "truck")]:
        agg.add_event(event(t, cls=cls))
    agg.add_event(event(61, cls="car"))
    agg.add_health(61.0, Health.OK)
    (first,) = agg.advance(61.0)
    assert isinstance(first, IntervalCounts)
    assert (first.source, first.intersection, first.start_s, first.duration_s) == ("cam1", "I1", 0.0, 60.0)
    assert first.vehicles("N_through") == 5 and first.counts["S_through"] == {}
    assert first.flow_veh_h("N_through") == pytest.approx(5 * 60)  # 5 vehicles in a minute
    assert first.flow_pcu_h("N_through") == pytest.approx((2 * 1.0 + 0.3 + 2.0 + 2.0) * 60)
    assert first.flow_veh_h("S_through") == 0.0 and first.health is Health.OK
    (last,) = agg.flush(75.0)
    assert (last.start_s, last.duration_s, last.vehicles("N_through")) == (60.0, 15.0, 1)
    assert last.flow_veh_h("N_through") == pytest.approx(240.0), "a partial interval's flow uses its own length"


def test_an_interval_without_frames_is_lost_and_mostly_bad_frames_are_reported():
    agg = IntervalAggregator("cam1", 10.0, keys=["k"])
    for i in range(10):
        agg.add_health(i, Health.FROZEN if i >= 5 else Health.OK)
    agg.add_health(25.0, Health.OK)
    first, second = agg.advance(25.0)
    assert first.health is Health.FROZEN and second.health is Health.LOST


def test_lag_lets_late_settled_events_reach_their_interval():
    agg = IntervalAggregator("cam1", 10.0, lag_s=1.0)
    agg.add_health(9.5, Health.OK)
    assert agg.advance(10.5) == [], "an interval waits lag_s past its end"
    agg.add_event(event(9.8))
    (done,) = agg.advance(11.0)
    assert done.vehicles("N_through") == 1


def test_events_without_key_are_not_aggregated_and_bad_interval_rejected():
    agg = IntervalAggregator("cam1", 10.0)
    agg.add_event(event(1.0, key=None))
    agg.add_health(1.0, Health.OK)
    (done,) = agg.flush(10.0)
    assert dict(done.counts) == {}
    with pytest.raises(ValueError):
        IntervalAggregator("cam1", 0.0)


def test_an_empty_partial_last_interval_is_not_reported():
    agg = IntervalAggregator("cam1", 5.0)
    for t in (1.0, 4.9):
        agg.add_health(t, Health.OK)
    assert [c.duration_s for c in agg.flush(5.02)] == [5.0]
