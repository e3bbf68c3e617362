"""Drifted demand (``traffic.demand_drift``): growth, changed turning shares, a new side-street generator,
an event crowd and a lane closure, each changing the demand only where it says; and the closed loop on
drifted demand: the adaptive controller re-plans away from a stale plan and beats it."""

from __future__ import annotations

import itertools

import pytest

from traffic import demand_drift as drift
from traffic.demand import Flow
from traffic.errors import ModelError
from traffic.network import NodeKind
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario


@pytest.fixture(scope="module")
def cross() -> Scenario:
    return load_scenario("isolated_x080")


@pytest.fixture(scope="module")
def arterial() -> Scenario:
    return load_scenario("arterial")


def _movement_flows(sc: Scenario) -> dict[str, float]:
    """veh/h of every movement of ``sc`` (signalised or not), from its flows."""
    return {m.id: drift.link_flow_veh_h(sc, m.from_link, m.to_link) for m in sc.network.movements.values()}


def _approach_total(sc: Scenario, link: str) -> float:
    return sum(q for mid, q in _movement_flows(sc).items() if sc.network.movements[mid].from_link == link)


def test_growth_scales_every_flow(cross):
    grown = drift.grown(cross, 1.2)
    assert grown.demand.expected_vehicles() == pytest.approx(1.2 * cross.demand.expected_vehicles())
    before, after = _movement_flows(cross), _movement_flows(grown)
    assert all(after[m] == pytest.approx(1.2 * q) for m, q in before.items())


def test_growth_in_a_window_changes_only_the_window(cross):
    grown = drift.grown(cross, 1.5, (600.0, 1800.0))
    for old, new in zip(cross.demand.flows, grown.demand.flows, strict=True):
        q = old.flow_veh_h_at(0.0)
        assert [new.flow_veh_h_at(t) for t in (0.0, 599.0, 600.0, 1799.0, 1800.0, 3599.0)] == pytest.approx(
            [q, q, 1.5 * q, 1.5 * q, q, q])
    assert grown.demand.expected_vehicles() == pytest.approx(cross.demand.expected_vehicles() * (1 + 0.5 / 3))


def test_turning_shift_moves_traffic_within_one_approach(cross):
    shifted = drift.turning_shift(cross, "N_C", 0.25, "l")
    before, after = _movement_flows(cross), _movement_flows(shifted)
    through, left = "N_C>C_S", "N_C>C_E"
    moved = 0.25 * before[through]
    assert after[through] == pytest.approx(before[through] - moved)
    assert after[left] == pytest.approx(before[left] + moved)
    assert _approach_total(shifted, "N_C") == pytest.approx(_approach_total(cross, "N_C"))
    assert {m: q for m, q in after.items() if not m.startswith("N_C>")} == pytest.approx(
        {m: q for m, q in before.items() if not m.startswith("N_C>")})
    assert shifted.demand.expected_vehicles() == pytest.approx(cross.demand.expected_vehicles())


def test_turning_shift_on_a_corridor_turns_traffic_where_said_and_leaves_upstream_alone(arterial):
    shifted = drift.turning_shift(arterial, "I2_I3", 0.15, "l")
    before, after = _movement_flows(arterial), _movement_flows(shifted)
    through, left = "I2_I3>I3_I4", "I2_I3>I3_N3"
    assert after[through] == pytest.approx(0.85 * before[through])
    assert after[left] == pytest.approx(before[left] + 0.15 * before[through])
    assert _approach_total(shifted, "I2_I3") == pytest.approx(_approach_total(arterial, "I2_I3"))
    for m in ("W_I1>I1_I2", "I1_I2>I2_I3", "N2_I2>I2_I3"):  # upstream of the turn: the same traffic
        assert after[m] == pytest.approx(before[m])
    assert after["I3_I4>I4_I5"] < before["I3_I4>I4_I5"] - 0.1 * before[through]  # downstream: less through traffic
    assert shifted.demand.expected_vehicles() == pytest.approx(arterial.demand.expected_vehicles())
    for flow in shifted.demand.flows:  # every route still ends at the network's edge
        last = shifted.route_links(flow)[-1]
        assert shifted.network.nodes[shifted.network.links[last].to_node].kind is NodeKind.BOUNDARY


def test_turning_shift_rejects_what_it_cannot_do(cross):
    with pytest.raises(ModelError, match="share"):
        drift.turning_shift(cross, "N_C", 1.5)
    with pytest.raises(ModelError, match="unknown link"):
        drift.turning_shift(cross, "nowhere", 0.2)
    with pytest.raises(ModelError, match="no through movement"):
        drift.turning_shift(cross, "C_N", 0.2)  # an exit link: no movement from it
    all_left = drift.turning_shift(cross, "N_C", 1.0)
    assert _movement_flows(all_left)["N_C>C_S"] == 0.0
    with pytest.raises(ModelError, match="no flow makes the through movement"):
        drift.turning_shift(all_left, "N_C", 0.2)


def test_side_street_generator_adds_flow_only_where_said(arterial):
    gen = drift.side_street_generator(arterial, "N3_I3", 300.0)
    before, after = _movement_flows(arterial), _movement_flows(gen)
    out_of_n3 = [m for m in before if m.startswith("N3_I3>")]
    assert sum(after[m] - before[m] for m in out_of_n3) == pytest.approx(300.0)
    for m in out_of_n3:  # in the approach's own turning shares
        assert (after[m] - before[m]) / 300.0 == pytest.approx(before[m] / _approach_total(arterial, "N3_I3"))
    touched = {m for flow in gen.demand.flows[len(arterial.demand.flows):]
               for m in _route_movements(gen, flow)}
    assert {m for m in before if after[m] != pytest.approx(before[m])} == touched
    assert not any(m.startswith(("N1", "N2", "N4", "N5", "N6", "S")) for m in touched)
    assert gen.demand.expected_vehicles() == pytest.approx(arterial.demand.expected_vehicles() + 300.0)


def test_side_street_generator_with_given_shares(cross):
    gen = drift.side_street_generator(cross, "N_C", 200.0, shares={"l": 3.0, "r": 1.0})
    before, after = _movement_flows(cross), _movement_flows(gen)
    assert after["N_C>C_E"] - before["N_C>C_E"] == pytest.approx(150.0)
    assert after["N_C>C_W"] - before["N_C>C_W"] == pytest.approx(50.0)
    assert after["N_C>C_S"] == pytest.approx(before["N_C>C_S"])
    with pytest.raises(ModelError, match="no uturn movement"):
        drift.side_street_generator(cross, "N_C", 200.0, shares={"t": 1.0})


def test_event_crowd_runs_only_in_its_window(cross):
    ev = drift.event_crowd(cross, "N_C", 360.0, 1200.0, 2400.0)
    new = ev.demand.flows[len(cross.demand.flows):]
    assert new and all([(s.begin_s, s.end_s) for s in f.slices] == [(1200.0, 2400.0)] for f in new)
    assert sum(f.flow_veh_h_at(1800.0) for f in new) == pytest.approx(360.0)
    assert sum(f.flow_veh_h_at(t) for f in new for t in (0.0, 1199.0, 2400.0)) == 0.0
    assert ev.demand.expected_vehicles() == pytest.approx(cross.demand.expected_vehicles() + 120.0)


def test_lane_closure_is_its_capacity_equivalent_over_the_window(arterial):
    closed = drift.lane_closure(arterial, "W_I1", 1200.0, 2400.0)  # one of two lanes: flows x2 over 20 min
    for old, new in zip(arterial.demand.flows, closed.demand.flows, strict=True):
        q = old.flow_veh_h_at(0.0)
        on_link = "W_I1" in arterial.route_links(old)
        inside = 2.0 * q if on_link else q
        assert [new.flow_veh_h_at(t) for t in (0.0, 1199.0, 1200.0, 2399.0, 2400.0)] == pytest.approx(
            [q, q, inside, inside, q])
    with pytest.raises(ModelError, match=r"can close 1\.\.1"):
        drift.lane_closure(arterial, "W_I1", 1200.0, 2400.0, lanes_closed=2)
    with pytest.raises(ModelError, match="lane"):
        drift.lane_closure(arterial, "N3_I3", 1200.0, 2400.0)  # a one-lane side street
    with pytest.raises(ModelError, match="end must be after begin"):
        drift.lane_closure(arterial, "W_I1", 2400.0, 1200.0)


def test_drifted_scenarios_keep_network_and_plans(cross):
    out = drift.turning_shift(drift.grown(cross, 1.2), "N_C", 0.3)
    assert out.network is cross.network and out.plans == cross.plans
    assert out.intersections == cross.intersections and out.route_groups == cross.route_groups


def _route_movements(sc: Scenario, flow: Flow) -> list[str]:
    links = sc.route_links(flow)
    return [m.id for a, b in itertools.pairwise(links)
            if (m := sc.network.movement_between(a, b)) is not None]


def test_adaptive_replans_away_from_a_stale_plan_and_beats_it(cross):
    """The plan made for last year's demand, run on +25 % demand: the adaptive controller, given that plan and
    the demand it was made for, sees the drift, re-plans, and loses less time than the stale plan run fixed."""
    from greenwave.demo.runs import run_adaptive, run_fixed
    from signal_control.adaptive import AdaptiveParams, TimeOfDayPlan, scenario_design_veh_h
    from signal_control.optimize import optimize

    params = AdaptiveParams()
    stale = dict(optimize(cross, params.method, webster=params.webster, name="stale").plans)
    now = drift.grown(cross, 1.25).with_plans(stale)
    tod = [TimeOfDayPlan(0.0, "stale", stale, scenario_design_veh_h(cross))]
    adaptive = run_adaptive(now, tod, seed=1, params=params, duration_s=1800.0)
    fixed = run_fixed(now, "stale", seed=1, duration_s=1800.0)
    assert adaptive.plan_changes > 0 and not adaptive.unsafe
    assert adaptive.final_plans["C"] != stale["C"]
    assert adaptive.metrics["mean_time_loss_s"] < fixed.metrics["mean_time_loss_s"]
