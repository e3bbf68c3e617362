"""Unsignalised priority junctions: the minor road gives way to the major road, the major never waits.

A hand-made cross junction J without a signal: the major road runs W -> E, the minor road S -> N
crosses it. Every link is 200 m at 10 m/s, so a car inserted at t reaches J at t + 20 s (the
parameters below remove every random and calibrated loss, so times are exact).
"""

from __future__ import annotations

import pytest

from simulation import SimParams, Simulation
from traffic.demand import Demand, Route, Trip
from traffic.errors import ModelError
from traffic.intersection import Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.vehicles import VehicleType

SPEED = 10.0
EXACT = SimParams(headway_sd_s=0.0, dawdle=1.0, depart_loss_s=0.0, min_gap_s=0.5, stop_threshold_s=3.0,
                  critical_gap_s=4.5, follow_up_s=2.5, junction_storage_veh=0)
MAJOR, MINOR = "w_in>e_out", "s_in>n_out"


def priority_cross(major: list[float], minor: list[float], *, yields: bool = True) -> Scenario:
    nodes = [Node("J", NodeKind.PRIORITY), Node("W", NodeKind.BOUNDARY, -200, 0), Node("E", NodeKind.BOUNDARY, 200, 0),
             Node("S", NodeKind.BOUNDARY, 0, -200), Node("N", NodeKind.BOUNDARY, 0, 200)]
    links = [Link("w_in", "W", "J", (Lane(0, 200.0, SPEED, (MAJOR,)),)),
             Link("e_out", "J", "E", (Lane(0, 200.0, SPEED),)),
             Link("s_in", "S", "J", (Lane(0, 200.0, SPEED, (MINOR,)),)),
             Link("n_out", "J", "N", (Lane(0, 200.0, SPEED),))]
    moves = [Movement(MAJOR, "J", "w_in", "e_out", Turn.THROUGH, (0,), (0,), 0.0, SPEED),
             Movement(MINOR, "J", "s_in", "n_out", Turn.THROUGH, (0,), (0,), 0.0, SPEED)]
    net = Network.build(nodes, links, moves, yields=[(MINOR, MAJOR)] if yields else [])
    routes = [Route("major", ("w_in", "e_out")), Route("minor", ("s_in", "n_out"))]
    trips = [Trip(f"M{i}", t, route="major") for i, t in enumerate(major)]
    trips += [Trip(f"m{i}", t, route="minor") for i, t in enumerate(minor)]
    demand = Demand.build([VehicleType("car", speed_dev=0.0)], routes, trips=trips)
    return Scenario("priority_cross", net, {}, {}, {}, demand, end_s=600.0)


def crossings(sc: Scenario) -> dict[str, list[float]]:
    sim = Simulation(sc, seed=1, params=EXACT, record_departures=True).run()
    out: dict[str, list[float]] = {"major": [], "minor": []}
    for t, link, _ in sim.departures:
        out["major" if link == "w_in" else "minor"].append(t)
    return out


def test_minor_waits_for_a_major_vehicle_in_conflict():
    """The minor car reaches J at 20 s; a major car arrives at 22 s, inside the 4.5-s critical gap:
    the minor car lets it pass and goes one follow-up time (2.5 s) after it."""
    alone = crossings(priority_cross(major=[], minor=[0.0]))
    assert alone["minor"] == pytest.approx([20.0])  # nothing to give way to
    both = crossings(priority_cross(major=[2.0], minor=[0.0]))
    assert both["major"] == pytest.approx([22.0])
    assert both["minor"] == pytest.approx([22.0 + EXACT.follow_up_s])


def test_minor_goes_in_a_gap():
    """Major cars at J at 20 s and 80 s: a minor car at 50 s finds a gap in both directions and goes
    at once; one at 21 s waits out the follow-up time behind the first major car."""
    out = crossings(priority_cross(major=[0.0, 60.0], minor=[30.0]))
    assert out["minor"] == pytest.approx([50.0])
    out = crossings(priority_cross(major=[0.0, 60.0], minor=[1.0]))
    assert out["minor"] == pytest.approx([20.0 + EXACT.follow_up_s])


def test_major_never_waits_for_minor():
    """A steady major stream (one car every 3 s) and a queue of minor cars: every major car crosses
    the moment it arrives, as it does without minor traffic; the minor cars only use gaps."""
    major = [3.0 * k for k in range(40)]
    minor = [0.5 * k for k in range(20)]
    with_minor = crossings(priority_cross(major=major, minor=minor))
    without = crossings(priority_cross(major=major, minor=[]))
    assert with_minor["major"] == pytest.approx([t + 20.0 for t in major])
    assert with_minor["major"] == pytest.approx(without["major"])
    # no gap of 4.5 s while the stream runs (until 137 s at J): the minor cars wait for its end
    assert min(with_minor["minor"]) >= major[-1] + 20.0 + EXACT.follow_up_s - 1e-9
    # without the yield rule, the first minor car would have gone at once
    free = crossings(priority_cross(major=major, minor=minor, yields=False))
    assert min(free["minor"]) == pytest.approx(20.0)


def test_yield_rules_are_checked():
    sc = priority_cross(major=[], minor=[])
    with pytest.raises(ModelError, match="unknown movement 'nope'"):
        Network.build(sc.network.nodes.values(), sc.network.links.values(), sc.network.movements.values(),
                      yields=[(MINOR, "nope")])
    with pytest.raises(ModelError, match="cannot give way to itself"):
        Network.build(sc.network.nodes.values(), sc.network.links.values(), sc.network.movements.values(),
                      yields=[(MINOR, MINOR)])
    assert sc.network.yields_at(MINOR) == (MAJOR,) and sc.network.yields_at(MAJOR) == ()
