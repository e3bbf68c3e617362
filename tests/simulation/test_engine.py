"""Behaviour of the simulator against hand calculations and invariants."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from simulation import SimParams, Simulation, simulate, simulate_seeds
from tests.simulation.corridor import corridor
from traffic.errors import PlanValidationError
from traffic.scenario_io import load_scenario

EXACT = SimParams(headway_sd_s=0.0, dawdle=1.0, depart_loss_s=0.0, min_gap_s=0.5, startup_s=1.5, yellow_go_s=0.0,
                  headway_through_s=2.0, stop_threshold_s=3.0)


def test_queue_discharge_matches_hand_calculation():
    """Eight cars reach signal A during red; they must leave at green + start-up + k * headway.

    Signal A: cycle 70 s (main green 30 + 3 + 2, cross 30 + 3 + 2), offset 0, so the main green is
    [0, 30) + 70k. Cars inserted at 56..63 s reach the stop line (500 m at 10 m/s) at 106..113 s,
    inside the red [100, 140); the queue leaves from 140 + 1.5 s start-up at 2.0 s headways.
    """
    trips = [56.0 + i for i in range(8)]
    sim = Simulation(corridor(trips=trips), seed=1, params=EXACT, record_departures=True).run()
    at_a = [t for t, link, _ in sim.departures if link == "inA"]
    expected = [140.0 + 1.5 + 2.0 * k for k in range(8)]
    assert at_a == pytest.approx(expected)


def test_arrivals_on_green_pass_without_delay():
    sim = Simulation(corridor(trips=[0.0]), seed=1, params=EXACT, record_departures=True).run()
    # insertion at t=0, stop line of A at 50 s: green [0, 30) is over, red until 70: leaves at 71.5
    assert [t for t, link, _ in sim.departures if link == "inA"] == pytest.approx([71.5])
    sim = Simulation(corridor(trips=[30.0]), seed=1, params=EXACT, record_departures=True).run()
    # reaches A at 80 s, inside green [70, 100): no delay at A
    assert [t for t, link, _ in sim.departures if link == "inA"] == pytest.approx([80.0])


def test_saturation_headway_during_long_green():
    trips = [float(i) for i in range(0, 40, 1)]
    sim = Simulation(corridor(trips=trips, green_s=120.0), seed=1, params=EXACT, record_departures=True).run()
    at_a = np.array([t for t, link, _ in sim.departures if link == "inA"])
    gaps = np.diff(at_a[:30])
    assert np.all(gaps >= 2.0 - 1e-9)
    assert np.median(gaps) == pytest.approx(2.0)


def test_spillback_blocks_upstream_discharge():
    """Link outA holds 30 m / 7.5 m = 4 cars. With signal B red while A is green, at most four
    cars can leave A; the rest wait at A although A shows green."""
    sc = corridor(length_b_m=30.0, trips=[float(i) for i in range(12)], green_s=30.0, red_green_s=60.0)
    plan_b = sc.plans["B"]["p"]
    shifted = plan_b.with_offset(40.0)  # B's main green starts at 40, after A's green [0, 30) ... next 100
    sc = sc.with_plans({"B": replace(shifted, name="late")})
    sim = Simulation(sc, seed=1, params=EXACT, record_departures=True)
    peak = []

    def watch():
        while True:
            peak.append(sim.links["outA"].lanes[0].occupancy)
            yield sim.env.timeout(0.5)

    sim.env.process(watch())
    sim.run()
    assert max(peak) <= 4
    at_a = [t for t, link, _ in sim.departures if link == "inA"]
    at_b = [t for t, link, _ in sim.departures if link == "outA"]
    assert len(at_a) == len(at_b) == 12
    # every departure from A beyond the 4th waits for a departure from B
    for k in range(4, 12):
        assert at_a[k] >= at_b[k - 4] - 1e-9


def test_conservation_and_determinism():
    sc = load_scenario("grid")
    a = Simulation(sc, seed=3, duration_s=1200.0).run()
    assert a.inserted == a.finished + a.in_network()
    on_lanes = sum(lane.occupancy for link in a.links.values() for lane in link.lanes)
    assert on_lanes == sum(len(lane.queue) for link in a.links.values() for lane in link.lanes)
    assert a.in_network() == on_lanes + sum(len(m.slot.queue) for m in a.moves.values() if m.slot) \
        + _on_exit_links(a)
    r1 = simulate(sc, seed=3, duration_s=1200.0).metrics
    r2 = simulate(sc, seed=3, duration_s=1200.0).metrics
    r3 = simulate(sc, seed=4, duration_s=1200.0).metrics
    assert r1 == r2
    assert r1 != r3


def _on_exit_links(sim: Simulation) -> int:
    return sum(link.occupancy for link in sim.links.values())


def test_parallel_seeds_equal_serial():
    sc = load_scenario("isolated_x050")
    serial = simulate_seeds(sc, [1, 2, 3], jobs=1)
    parallel = simulate_seeds(sc, [1, 2, 3], jobs=2)
    assert serial["metrics"] == parallel["metrics"]
    assert serial["runs"] == parallel["runs"]


def test_plan_change_takes_effect_at_cycle_boundary():
    sc = corridor(flow_veh_h=600.0, horizon_s=900.0)
    long_green = sc.plans["A"]["p"].with_greens([60.0, 20.0], name="long")
    sim = Simulation(sc, seed=2, params=EXACT, record_departures=True)

    def operator():
        yield sim.env.timeout(100.0)
        assert sim.request_plan("A", long_green) == 140.0  # cycle 70: boundaries at 0, 70, 140, ...

    sim.env.process(operator())
    sim.run()
    assert sim.plan_changes == [(140.0, "A", "long")]
    at_a = np.array([t for t, link, _ in sim.departures if link == "inA"])
    # old plan: main green [70, 100) before the switch; new plan from 140: green [140, 200), then
    # cross 20 s + 5 + 5 -> next green at 230 (cycle 90)
    assert not np.any((at_a > 100.0) & (at_a < 140.0))
    assert np.any((at_a > 170.0) & (at_a < 200.0))  # beyond the old green's end (170) = new plan
    assert not np.any((at_a >= 200.0) & (at_a < 230.0))


def test_unsafe_plan_request_is_refused():
    sc = corridor(flow_veh_h=300.0, horizon_s=300.0)
    bad = sc.plans["A"]["p"].with_greens([2.0, 30.0], name="short")
    sim = Simulation(sc, seed=1)
    with pytest.raises(PlanValidationError, match="minimum green"):
        sim.request_plan("A", bad)
    assert sim.timers["A"].pending_plan is None


def test_virtual_detectors_and_controller_hook():
    sc = load_scenario("isolated_x080")
    seen = []

    def controller(now_s, counts):
        seen.append((now_s, counts))
        return None

    sim = Simulation(sc, seed=1, detector_interval_s=300.0, controller=controller, record_departures=True).run()
    assert [t for t, _ in seen][:3] == [300.0, 600.0, 900.0]
    first = seen[0][1]["C"]
    assert first.source == "sim:C" and first.duration_s == 300.0 and first.health.value == "ok"
    crossed = sum(1 for t, _, _ in sim.departures if t < 300.0)
    assert sum(first.vehicles(m) for m in first.counts) == crossed
    assert set(first.queues_veh) == {g.id for g in sc.intersections["C"].lane_groups}
    # flows in veh/h over the hour add up to roughly the demand of 2,049 veh/h
    total = sum(c.vehicles(m) for _, cs in seen for c in cs.values() for m in c.counts if _ <= 3600.0)
    assert total == pytest.approx(2049, rel=0.08)


def test_fidelity_smoke_isolated_x080():
    """Three seeds of the reference x = 0.80 intersection against SUMO micro's 10-seed control
    delays (38.2 s through+right, 64.9 s left). The benchmark holds the model to 10 % over 10 seeds;
    with 3 seeds the seed-to-seed sd (1.7 and 5.7 s in SUMO) allows 15 %."""
    r = simulate_seeds(load_scenario("isolated_x080"), [1, 2, 3])
    through = np.mean([g["control_delay_s"] for g in r["lane_groups"] if g["lane_group"].endswith("#0")])
    left = np.mean([g["control_delay_s"] for g in r["lane_groups"] if g["lane_group"].endswith("#1")])
    assert through == pytest.approx(38.2, rel=0.15)
    assert left == pytest.approx(64.9, rel=0.15)
    assert r["metrics"]["arrived"] == r["metrics"]["inserted"]
    assert not math.isnan(r["sd"]["metrics"]["mean_time_loss_s"])


def test_every_intersection_gets_its_yield_rules():
    """Permissive movements yield to exactly the movements the intersection says, at every signal."""
    sc = load_scenario("arterial")
    sim = Simulation(sc, seed=1)
    for inter in sc.intersections.values():
        for mid in inter.movements:
            expected = sorted(b for a, b in inter.yields if a == mid)
            assert sorted(p.id for p in sim.moves[mid].priority) == expected, mid
