"""Lane choice at turn pockets, short links behind long junction paths, routing at insertion, and
vehicles still driving when a run ends: what a real city's network needs beyond the reference grids."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulation import SimParams, Simulation
from simulation.metrics import run_metrics
from tests.simulation.corridor import corridor
from traffic.demand import Arrivals, Demand, Flow, FlowSlice, Route, Trip
from traffic.intersection import Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.scenario_io import make_intersection
from traffic.signal_plan import Phase, SignalPlan
from traffic.vehicles import VehicleType

SPEED = 10.0
EXACT = SimParams(headway_sd_s=0.0, dawdle=1.0, depart_loss_s=0.0, min_gap_s=0.5, startup_s=1.5,
                  headway_through_s=2.0, stop_threshold_s=3.0, teleport_s=0.0)
CAR = VehicleType("car", speed_dev=0.0)
LAB = None
"""Rules for the lab plans below, which never serve a movement, end a green without yellow or give a crossing no
walk on purpose: the simulator still refuses conflicting greens (``Simulation(rules=None)``)."""


def _scenario(name: str, nodes, links, moves, plans: dict[str, list[Phase]], demand: Demand,
              end_s: float = 3600.0) -> Scenario:
    net = Network.build(nodes, links, moves)
    inters, programs = {}, {}
    for node, phases in plans.items():
        inters[node] = make_intersection(net, node, (node,))
        plan = SignalPlan(node, "p", sum(p.duration_s for p in phases), 0.0, tuple(phases))
        programs[node] = {"p": plan}
    return Scenario(name, net, inters, programs, dict.fromkeys(plans, "p"), demand, end_s=end_s)


def pocket(left_trips: list[float], through_trips: list[float]) -> Scenario:
    """Link ``up`` (2 lanes, 150 m) widens into ``pocket`` (3 lanes, 15 m) before signal S: up lane 0
    feeds pocket lane 0, up lane 1 feeds pocket lanes 1 and 2; lanes 0-1 go through, lane 2 turns left.
    S shows the through movement green all the time and never serves the left turn."""
    nodes = [Node("O", NodeKind.BOUNDARY), Node("P", NodeKind.PRIORITY), Node("S", NodeKind.SIGNAL),
             Node("T", NodeKind.BOUNDARY), Node("L", NodeKind.BOUNDARY)]
    lane = Lane
    links = [Link("up", "O", "P", (lane(0, 150.0, SPEED, ("up>pocket",)), lane(1, 150.0, SPEED, ("up>pocket",)))),
             Link("pocket", "P", "S", (lane(0, 15.0, SPEED, ("pocket>th",)), lane(1, 15.0, SPEED, ("pocket>th",)),
                                       lane(2, 15.0, SPEED, ("pocket>lt",)))),
             Link("th", "S", "T", (lane(0, 200.0, SPEED), lane(1, 200.0, SPEED))),
             Link("lt", "S", "L", (lane(0, 200.0, SPEED),))]
    moves = [Movement("up>pocket", "P", "up", "pocket", Turn.THROUGH, (0, 1), (0, 1, 2), 0.0, SPEED,
                      lane_pairs=((0, 0), (1, 1), (1, 2))),
             Movement("pocket>th", "S", "pocket", "th", Turn.THROUGH, (0, 1), (0, 1), 0.0, SPEED),
             Movement("pocket>lt", "S", "pocket", "lt", Turn.LEFT, (2,), (0,), 0.0, SPEED)]
    routes = [Route("left", ("up", "pocket", "lt")), Route("through", ("up", "pocket", "th"))]
    trips = [Trip(f"l{i}", t, route="left") for i, t in enumerate(left_trips)]
    trips += [Trip(f"t{i}", t, route="through") for i, t in enumerate(through_trips)]
    demand = Demand.build([CAR], routes, trips=trips)
    return _scenario("pocket", nodes, links, moves, {"S": [Phase("through", 60.0, 0.0, 0.0,
                                                                  protected=frozenset({"pocket>th"}))]}, demand,
                     end_s=600.0)


def test_lane_choice_follows_the_connections_into_a_pocket():
    sim = Simulation(pocket([0.0], [0.0]), seed=1, params=EXACT, rules=LAB)
    left, through = (sim.route_lanes[sim.route_index[r]] for r in (("up", "pocket", "lt"), ("up", "pocket", "th")))
    assert [lane.index for lane in left[0][None]] == [1]  # only up lane 1 leads to the left-turn lane
    assert [lane.index for lane in left[1][1]] == [2]
    assert [lane.index for lane in through[0][None]] == [0, 1]
    assert [lane.index for lane in through[1][0]] == [0]  # from up lane 0 only pocket lane 0 is reachable
    assert [lane.index for lane in through[1][1]] == [1]
    # a 15-m pocket leaves no room to change lanes (one change takes 10 s at 10 m/s + 15 m); where a
    # change is allowed anywhere, the through car may queue in either through lane
    free = Simulation(pocket([0.0], [0.0]), seed=1, params=replace(EXACT, lane_change_s=0.0), rules=LAB)
    assert [lane.index for lane in free.route_lanes[free.route_index[("up", "pocket", "th")]][1][0]] == [0, 1]


def test_a_full_left_pocket_blocks_only_the_lane_leading_to_it():
    """Twelve left turners that are never served fill the 2-car left lane and queue back on up lane 1;
    through traffic keeps to up lane 0 and passes without delay."""
    through = [20.0 + 4.0 * k for k in range(30)]
    sim = Simulation(pocket([float(k) for k in range(12)], through), seed=1, params=EXACT, rules=LAB).run()
    m = run_metrics(sim)["metrics"]
    assert m["arrived"] == len(through)  # every through car, no left turner
    assert m["mean_time_loss_s"] == pytest.approx(0.0, abs=1e-6)
    assert sim.links["up"].lanes[1].occupancy == 12 - sim.links["pocket"].lanes[2].capacity


def short_link(n_cars: int) -> Scenario:
    """Signal A, then a 30-m path through the junction onto an 8-m link (room for one car), then an
    unsignalised merge B: the short link must not cut A's saturation flow."""
    nodes = [Node("W", NodeKind.BOUNDARY), Node("A", NodeKind.SIGNAL), Node("B", NodeKind.PRIORITY),
             Node("E", NodeKind.BOUNDARY)]
    links = [Link("in", "W", "A", (Lane(0, 500.0, SPEED, ("in>mid",)),)),
             Link("mid", "A", "B", (Lane(0, 8.0, SPEED, ("mid>out",)),)),
             Link("out", "B", "E", (Lane(0, 300.0, SPEED),))]
    moves = [Movement("in>mid", "A", "in", "mid", Turn.LEFT, (0,), (0,), 30.0, SPEED),
             Movement("mid>out", "B", "mid", "out", Turn.THROUGH, (0,), (0,), 0.0, SPEED)]
    demand = Demand.build([CAR], [Route("r", ("in", "mid", "out"))],
                          trips=[Trip(f"c{i}", float(i), route="r") for i in range(n_cars)])
    # A: green [60, 120) of a 120-s cycle, so the cars (at A from 50 s) stand in a queue first
    phases = [Phase("red", 57.0, 3.0, 0.0), Phase("go", 60.0, 0.0, 0.0, protected=frozenset({"in>mid"}))]
    return _scenario("short_link", nodes, links, moves, {"A": phases}, demand)


def test_a_short_link_behind_a_long_junction_path_keeps_the_saturation_flow():
    """The 8-m link holds one standing car, but while a car drives the 30-m path through junction A
    the link is still free for the car ahead: the queue leaves A at the saturation headway (2 s),
    not one car per trip through the junction (about 5 s)."""
    sim = Simulation(short_link(10), seed=1, params=EXACT, record_departures=True, rules=LAB).run()
    at_a = np.array([t for t, link, _ in sim.departures if link == "in"])
    assert len(at_a) == 10
    assert np.median(np.diff(at_a)) == pytest.approx(EXACT.headway_through_s, rel=0.1)
    assert sim.links["mid"].lanes[0].capacity == 1


def two_paths(dynamic: bool) -> Simulation:
    """O -> X, then either ``a`` (300 m, then signal Y with 10 s of green in 90 s) or ``b1`` + ``b2``
    (600 m, 74 s of green at Y) to D; 600 veh/h from O to D, given as an origin-destination flow."""
    nodes = [Node(n, NodeKind.BOUNDARY) for n in "OD"] + [Node("X", NodeKind.PRIORITY), Node("Z", NodeKind.PRIORITY),
                                                          Node("Y", NodeKind.SIGNAL)]

    def link(lid: str, a: str, b: str, length: float, moves: tuple[str, ...]) -> Link:
        return Link(lid, a, b, (Lane(0, length, SPEED, moves),))

    links = [link("o", "O", "X", 100.0, ("o>a", "o>b1")), link("a", "X", "Y", 300.0, ("a>d",)),
             link("b1", "X", "Z", 300.0, ("b1>b2",)), link("b2", "Z", "Y", 300.0, ("b2>d",)),
             link("d", "Y", "D", 100.0, ())]
    moves = [Movement(m, node, m.split(">")[0], m.split(">")[1], Turn.THROUGH, (0,), (0,), 0.0, SPEED)
             for m, node in (("o>a", "X"), ("o>b1", "X"), ("a>d", "Y"), ("b1>b2", "Z"), ("b2>d", "Y"))]
    flow = Flow("od", (FlowSlice(0.0, 1800.0, 600.0),), origin="o", destination="d", arrivals=Arrivals.UNIFORM)
    demand = Demand.build([CAR], [], [flow])
    phases = [Phase("a", 10.0, 3.0, 0.0, protected=frozenset({"a>d"})),
              Phase("b", 74.0, 3.0, 0.0, protected=frozenset({"b2>d"}))]
    sc = _scenario("two_paths", nodes, links, moves, {"Y": phases}, demand, end_s=1800.0)
    return Simulation(sc, seed=1, params=replace(EXACT, dynamic_routing=dynamic), duration_s=1800.0, rules=LAB).run()


def test_dynamic_routing_moves_traffic_off_a_congested_route():
    """Static routing sends everyone over the short path ``a``, whose signal passes about 200 veh/h;
    routed on current travel times, later vehicles take the long way round once ``a`` queues up."""
    static, dynamic = two_paths(False), two_paths(True)

    def via_b(sim: Simulation) -> int:
        return sum(any(m.from_link.id == "b1" for m in sim.route_moves[r]) for r in sim.log.route)

    assert via_b(static) == 0
    assert via_b(dynamic) > 50
    assert via_b(dynamic) < len(dynamic.log.route)  # the short path is still used
    ms, md = run_metrics(static)["metrics"], run_metrics(dynamic)["metrics"]
    assert md["mean_delay_all_s"] < 0.5 * ms["mean_delay_all_s"]
    again = run_metrics(two_paths(True))["metrics"]
    assert again == md  # deterministic


def test_vehicles_still_driving_at_the_end_are_measured_as_sumo_writes_them():
    """Corridor: a car inserted at 0 s stands at A's red from 50 s; one inserted at 40 s is still
    driving. Stopped at 60 s: 10 s and 0 s of time loss so far; neither has arrived."""
    sim = Simulation(corridor(trips=[0.0, 40.0]), seed=1, params=EXACT, duration_s=60.0).run()
    m = run_metrics(sim)["metrics"]
    assert (m["arrived"], m["still_in_network"]) == (0, 2)
    assert m["mean_time_loss_all_s"] == pytest.approx(5.0)
    assert m["mean_delay_all_s"] == pytest.approx(5.0)
    assert m["vehicle_seconds"] == pytest.approx(60.0 + 20.0)
