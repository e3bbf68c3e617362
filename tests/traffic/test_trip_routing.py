"""Trips given by origin and destination are routed by fastest free-flow travel time (networkx).

A hand-made network with three ways from ``o`` to ``d``:

    o -> X -> short (400 m at 8 m/s = 50 s)   -> Y -> d
    o -> X -> fast  (600 m at 20 m/s = 30 s)  -> Y -> d      (but a slow 100-m path through X)
    o -> X -> w1 -> Z -> w2 (2 x 300 m at 15 m/s = 40 s) -> Y -> d
"""

from __future__ import annotations

import pytest

from traffic.demand import Demand, Trip
from traffic.errors import ModelError
from traffic.intersection import Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.vehicles import VehicleType


def network(fast_turn_length_m: float) -> Network:
    nodes = [Node(n, NodeKind.BOUNDARY) for n in ("O", "D", "U")] + \
        [Node(n, NodeKind.PRIORITY) for n in ("X", "Y", "Z")]

    def link(lid: str, a: str, b: str, length: float, speed: float, moves: tuple[str, ...] = ()) -> Link:
        return Link(lid, a, b, (Lane(0, length, speed, moves),))

    links = [link("o", "O", "X", 100.0, 10.0, ("o>short", "o>fast", "o>w1")),
             link("short", "X", "Y", 400.0, 8.0, ("short>d",)), link("fast", "X", "Y", 600.0, 20.0, ("fast>d",)),
             link("w1", "X", "Z", 300.0, 15.0, ("w1>w2",)), link("w2", "Z", "Y", 300.0, 15.0, ("w2>d",)),
             link("d", "Y", "D", 100.0, 10.0), link("u", "U", "X", 50.0, 10.0)]

    def move(mid: str, node: str, length: float = 0.0, speed: float = 10.0) -> Movement:
        a, b = mid.split(">")
        return Movement(mid, node, a, b, Turn.THROUGH, (0,), (0,), length, speed)

    moves = [move("o>short", "X"), move("o>fast", "X", fast_turn_length_m, 2.0), move("o>w1", "X"),
             move("short>d", "Y"), move("fast>d", "Y"), move("w1>w2", "Z"), move("w2>d", "Y")]
    return Network.build(nodes, links, moves)


@pytest.mark.parametrize(("fast_turn_length_m", "expected"), [
    (0.0, ("o", "fast", "d")),                # 30 s beats 40 s and 50 s
    (10.0, ("o", "fast", "d")),               # 30 s + 5 s inside X still beats the detour's 40 s
    (30.0, ("o", "w1", "w2", "d")),           # 30 s + 15 s inside X: the time in the junction counts
])
def test_trip_takes_the_fastest_free_flow_route(fast_turn_length_m, expected):
    net = network(fast_turn_length_m)
    demand = Demand.build([VehicleType("car")], [], trips=[Trip("t", 0.0, origin="o", destination="d")])
    sc = Scenario("routes", net, {}, {}, {}, demand)
    assert sc.route_links(sc.demand.trips[0]) == expected
    assert net.check_route(expected) == expected


def test_shortest_by_distance_is_not_the_choice():
    """The geometrically shortest path (``short``, 400 m) is the slowest (50 s): never chosen."""
    assert "short" not in network(0.0).fastest_route("o", "d")


def test_unreachable_destination_is_a_clear_error():
    net = network(0.0)
    with pytest.raises(ModelError, match="no route from link 'd' to link 'o'"):
        net.fastest_route("d", "o")
    with pytest.raises(ModelError, match="no route from link 'u' to link 'd'"):
        net.fastest_route("u", "d")  # link u ends at X but no movement leaves it
    with pytest.raises(ModelError, match="unknown link 'nowhere'"):
        net.fastest_route("o", "nowhere")
