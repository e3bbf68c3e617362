"""Motorbike-dominated mixed traffic: width-budget storage, class discharge and filtering."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulation import SimParams, Simulation
from simulation.mixed_queue import columns, filter_order, headway_factor, lane_tables, strip_room
from traffic.demand import Demand, Route, Trip
from traffic.intersection import Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario, make_intersection, save_scenario
from traffic.signal_plan import Phase, SignalPlan
from traffic.sumo.routes import read_sumo_routes
from traffic.vehicles import VehicleType

SPEED = 10.0
EXACT = SimParams(headway_sd_s=0.0, dawdle=1.0, depart_loss_s=0.0, min_gap_s=0.5, startup_s=1.5,
                  stop_threshold_s=3.0, teleport_s=0.0)
CAR = VehicleType("car", speed_dev=0.0)
LAB = None
"""The lab plan (red, then one long green without yellow) breaks the plan rules on purpose."""
MOTO = VehicleType("moto", vehicle_class="motorcycle", length_m=1.9, min_gap_m=1.0, width_m=0.7, min_gap_lat_m=0.3,
                   accel_m_s2=3.0, decel_m_s2=5.0, speed_dev=0.0)


def approach(trips: list[tuple[float, str]], *, length_m: float = 289.0, width_m: float = 3.5,
             red_s: float = 60.0) -> Scenario:
    """One lane ``in`` (``length_m`` x ``width_m``) to signal S, red for ``red_s`` then green 300 s."""
    nodes = [Node("W", NodeKind.BOUNDARY), Node("S", NodeKind.SIGNAL), Node("E", NodeKind.BOUNDARY)]
    links = [Link("in", "W", "S", (Lane(0, length_m, SPEED, ("go",), width_m),)),
             Link("out", "S", "E", (Lane(0, 300.0, SPEED, (), width_m),))]
    moves = [Movement("go", "S", "in", "out", Turn.THROUGH, (0,), (0,), 0.0, SPEED)]
    net = Network.build(nodes, links, moves)
    phases = (Phase("red", red_s - 3.0, 3.0, 0.0), Phase("go", 300.0, 0.0, 0.0, protected=frozenset({"go"})))
    plan = SignalPlan("S", "p", sum(p.duration_s for p in phases), 0.0, phases)
    demand = Demand.build([CAR, MOTO], [Route("r", ("in", "out"))],
                          trips=[Trip(f"v{i}", t, route="r", vehicle_type=k) for i, (t, k) in enumerate(trips)])
    return Scenario("approach", net, {"S": make_intersection(net, "S", ("S",))}, {"S": {"p": plan}}, {"S": "p"},
                    demand, end_s=600.0)


def crossings(sim: Simulation) -> list[tuple[float, str]]:
    """(time, vehicle type) of every crossing of the stop line at S, in order."""
    out: list[tuple[float, str]] = []
    leave = sim.leave_lane

    def record(lane, v, mv, now, into_slot):
        out.append((now, "moto" if v.vclass == "motorcycle" else "car"))
        leave(lane, v, mv, now, into_slot)

    sim.leave_lane = record  # type: ignore[method-assign]
    sim.run()
    return out


# --- the kernel ---------------------------------------------------------------------------------------------


def test_motorbikes_queue_three_abreast_in_a_3_5_m_lane_and_cars_one():
    assert columns(3.5, 0.7, 0.3) == 3
    assert columns(2.5, 0.7, 0.3) == 2
    assert columns(3.5, 1.8, 0.6) == 1
    assert columns(2.0, 2.5, 0.6) == 1  # a vehicle wider than the lane still takes one file


def test_a_car_keeps_its_headway_and_a_motorbike_file_is_faster():
    assert headway_factor(7.5, 2.6, 2.05, 1.0) == pytest.approx(1.0)
    moto = headway_factor(2.9, 3.0, 2.05, 1.0)
    bus = headway_factor(14.5, 1.2, 2.05, 1.0)
    assert 0.5 < moto < 1.0 < bus
    space, share, cols = lane_tables(3.5, np.array([1.8, 0.7]), np.array([0.6, 0.3]), np.array([7.5, 2.9]),
                                     np.array([2.6, 3.0]), 2.05, 1.0)
    assert list(cols) == [1, 3]
    assert space[0] == pytest.approx(1.0) and space[1] == pytest.approx(2.9 / 7.5 / 3)
    assert share[0] == pytest.approx(1.0) and share[1] == pytest.approx(moto / 3)


def test_the_strip_beside_a_car_holds_two_motorbikes_where_the_lane_is_wide_enough():
    width, gap, jam = np.array([1.8, 0.7]), np.array([0.6, 0.3]), np.array([7.5, 2.9])
    assert strip_room(3.5, width, gap, jam).tolist() == [[0, 2], [0, 0]]
    assert strip_room(2.6, width, gap, jam).tolist() == [[0, 0], [0, 0]]  # 0.5 m beside the car: no room


def test_filterers_ride_up_beside_the_front_cars_and_leave_just_before_them():
    room = np.array([[0, 2], [0, 0]])
    width = np.array([1.8, 0.7])
    kinds = np.array([0, 0, 0, 1, 1, 1])  # three cars, then three motorbikes, front first
    order = filter_order(kinds, np.array([False, False, False, True, True, True]), room, width)
    assert order.tolist() == [3, 4, 0, 5, 1, 2]
    # a wide vehicle with no room beside it stops them: they keep their places
    blocked = filter_order(kinds, np.array([False] * 3 + [True] * 3), np.zeros((2, 2), dtype=np.int64), width)
    assert blocked.tolist() == list(range(6))


# --- the simulator ------------------------------------------------------------------------------------------


def test_a_lane_stores_motorbikes_by_width_and_length_not_one_car_slot_each():
    """60 motorbikes arrive at a 60-m lane at red: 8 car slots, but room for 62 motorbikes queued three
    abreast at 2.9 m; as cars, 52 of them would wait outside the network."""
    sc = approach([(0.5 * k, "moto") for k in range(60)], length_m=60.0, red_s=120.0)
    sim = Simulation(sc, 1, EXACT, rules=LAB)
    sim.env.run(until=100.0)
    lane = sim.links["in"].lanes[0]
    assert lane.capacity == 8
    assert lane.occupancy == 60
    assert lane.used == pytest.approx(60 * 2.9 / 7.5 / 3)
    as_cars = Simulation(sc, 1, replace(EXACT, width_budget=False), rules=LAB)
    as_cars.env.run(until=100.0)
    assert as_cars.links["in"].lanes[0].occupancy == 8


def test_a_standing_queue_of_motorbikes_discharges_several_per_second():
    """60 motorbikes standing at red leave a 3.5-m lane three files abreast: the lane's headway is a
    third of one file's, about 0.5 s, four times a car's 2.05 s."""
    sim = Simulation(approach([(0.5 * k, "moto") for k in range(60)]), 1, EXACT, rules=LAB)
    times = np.array([t for t, _ in crossings(sim)])
    assert len(times) == 60
    expected = EXACT.headway_through_s * headway_factor(2.9, 3.0, EXACT.headway_through_s,
                                                        EXACT.discharge_reaction_s) / 3
    assert np.median(np.diff(times)) == pytest.approx(expected, rel=0.01)
    assert 3600.0 / np.median(np.diff(times)) > 6000.0
    cars = Simulation(approach([(1.0 * k, "car") for k in range(30)]), 1, EXACT, rules=LAB)
    car_times = np.array([t for t, _ in crossings(cars)])
    assert np.median(np.diff(car_times)) == pytest.approx(EXACT.headway_through_s, rel=0.01)


def test_the_discharge_rate_follows_the_lane_width():
    """In a 2.5-m lane motorbikes leave two abreast, in a 3.5-m lane three."""
    trips = [(0.5 * k, "moto") for k in range(60)]
    wide = np.diff([t for t, _ in crossings(Simulation(approach(trips, width_m=3.5), 1, EXACT, rules=LAB))])
    narrow = np.diff([t for t, _ in crossings(Simulation(approach(trips, width_m=2.5), 1, EXACT, rules=LAB))])
    assert np.median(narrow) == pytest.approx(1.5 * np.median(wide), rel=0.01)


def test_motorbikes_that_arrive_at_red_filter_past_standing_cars():
    """Three cars stand at the line; three motorbikes arrive behind them during the red. With lateral room
    they ride up beside the first car (two fit in its strip) and the second, and leave before them; in a
    2.6-m lane there is no room and they leave last, as without filtering."""
    trips = [(0.0, "car"), (1.0, "car"), (2.0, "car"), (10.0, "moto"), (11.0, "moto"), (12.0, "moto")]
    order = [k for _, k in crossings(Simulation(approach(trips), 1, EXACT, rules=LAB))]
    assert order == ["moto", "moto", "car", "moto", "car", "car"]
    no_room = [k for _, k in crossings(Simulation(approach(trips, width_m=2.6), 1, EXACT, rules=LAB))]
    assert no_room == ["car", "car", "car", "moto", "moto", "moto"]
    off = [k for _, k in crossings(Simulation(approach(trips), 1, replace(EXACT, filtering=False), rules=LAB))]
    assert off == ["car", "car", "car", "moto", "moto", "moto"]


def test_motorbikes_arriving_at_green_behind_moving_cars_keep_their_place():
    trips = [(60.0 + 2.0 * k, "car") for k in range(3)] + [(67.0, "moto")]
    order = [k for _, k in crossings(Simulation(approach(trips, red_s=3.0), 1, EXACT, rules=LAB))]
    assert order == ["car", "car", "car", "moto"]


def test_car_only_traffic_is_simulated_exactly_as_before():
    """A SUMO passenger car takes one slot and the movement's headway with or without the width budget."""
    trips = [(1.7 * k, "car") for k in range(80)]
    sc = approach(trips, length_m=120.0)
    params = replace(EXACT, headway_sd_s=0.35, dawdle=0.977)
    a = crossings(Simulation(sc, 3, params, rules=LAB))
    b = crossings(Simulation(sc, 3, replace(params, width_budget=False, filtering=False), rules=LAB))
    assert a == b
    lane = Simulation(sc, 3, params, rules=LAB).links["in"].lanes[0]
    assert lane.kinds.space[0] == 1.0 and lane.kinds.share[0] == 1.0


# --- vehicle types from SUMO and in scenario files -------------------------------------------------------


def test_sumo_motorcycle_vtypes_import_with_their_size_and_keep_it_in_the_scenario_file(tmp_path):
    routes = tmp_path / "r.rou.xml"
    routes.write_text('<routes><vType id="calib" vClass="motorcycle" length="1.9" width="0.7" minGap="1.0" '
                      'minGapLat="0.3" accel="3" decel="5"/><vType id="plain" vClass="motorcycle"/>'
                      '<vType id="car" vClass="passenger"/></routes>')
    types = read_sumo_routes([routes]).vehicle_types
    calib, plain, car = types["calib"], types["plain"], types["car"]
    assert (calib.length_m, calib.width_m, calib.min_gap_m, calib.min_gap_lat_m) == (1.9, 0.7, 1.0, 0.3)
    assert (plain.length_m, plain.width_m, plain.accel_m_s2) == (2.2, 0.9, 6.0)  # SUMO's motorcycle defaults
    assert (car.length_m, car.width_m, car.min_gap_lat_m) == (5.0, 1.8, 0.6)
    sc = replace(approach([(0.0, "moto")]), demand=Demand.build([CAR, calib], [Route("r", ("in", "out"))],
                                                               trips=[Trip("m", 0.0, route="r", vehicle_type="calib")]))
    save_scenario(sc, tmp_path / "s.json")
    back = load_scenario(tmp_path / "s.json")
    assert back.demand.vehicle_types["calib"] == calib
    assert back.network.links["in"].lanes[0].width_m == 3.5
