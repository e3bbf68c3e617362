"""A minimal signalised corridor for hand calculations: W -> A (signal) -> B (signal) -> E.

Each link has one lane at 10 m/s. Signals A and B give a main phase to the corridor's through
movement and a cross phase to a conflicting side movement, as a two-phase signal would.
"""

from __future__ import annotations

from traffic.demand import Arrivals, Demand, Flow, FlowSlice, Route, Trip
from traffic.intersection import Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.scenario_io import make_intersection
from traffic.signal_plan import Phase, SignalPlan
from traffic.vehicles import VehicleType

SPEED = 10.0


def _plan(node: str, through: str, green_s: float, red_green_s: float) -> SignalPlan:
    main = Phase("main", green_s, 3.0, 2.0, protected=frozenset({through}))
    cross = Phase("cross", red_green_s, 3.0, 2.0, protected=frozenset({f"x{node}>y{node}"}))
    return SignalPlan(node, "p", main.duration_s + cross.duration_s, 0.0, (main, cross))


def corridor(length_b_m: float = 200.0, green_s: float = 30.0, red_green_s: float = 30.0,
             trips: list[float] | None = None, flow_veh_h: float = 0.0, horizon_s: float = 3600.0) -> Scenario:
    nodes = [Node("W", NodeKind.BOUNDARY, -500, 0), Node("A", NodeKind.SIGNAL, 0, 0),
             Node("B", NodeKind.SIGNAL, length_b_m, 0), Node("E", NodeKind.BOUNDARY, length_b_m + 500, 0)]
    for n in "AB":
        nodes += [Node(f"X{n}", NodeKind.BOUNDARY), Node(f"Y{n}", NodeKind.BOUNDARY)]
    links = [Link("inA", "W", "A", (Lane(0, 500.0, SPEED, ("inA>outA",)),)),
             Link("outA", "A", "B", (Lane(0, length_b_m, SPEED, ("inB>outB",)),)),
             Link("outB", "B", "E", (Lane(0, 500.0, SPEED),))]
    moves = [Movement("inA>outA", "A", "inA", "outA", Turn.THROUGH, (0,), (0,), 0.0, SPEED),
             Movement("inB>outB", "B", "outA", "outB", Turn.THROUGH, (0,), (0,), 0.0, SPEED)]
    for n in "AB":
        links += [Link(f"x{n}", f"X{n}", n, (Lane(0, 100.0, SPEED, (f"x{n}>y{n}",)),)),
                  Link(f"y{n}", n, f"Y{n}", (Lane(0, 100.0, SPEED),))]
        moves.append(Movement(f"x{n}>y{n}", n, f"x{n}", f"y{n}", Turn.THROUGH, (0,), (0,), 0.0, SPEED))
    net = Network.build(nodes, links, moves)
    inters = {}
    for n in "AB":
        through = "inA>outA" if n == "A" else "inB>outB"
        inters[n] = make_intersection(net, n, (n,), conflicts=frozenset({frozenset({through, f"x{n}>y{n}"})}))
    plans = {n: {"p": _plan(n, "inA>outA" if n == "A" else "inB>outB", green_s, red_green_s)} for n in "AB"}
    routes = [Route("main", ("inA", "outA", "outB"))]
    car = VehicleType("car", speed_dev=0.0)
    flows = [Flow("f", (FlowSlice(0.0, horizon_s, flow_veh_h),), route="main", arrivals=Arrivals.POISSON)] \
        if flow_veh_h > 0 else []
    trip_list = [Trip(f"t{i}", t, route="main") for i, t in enumerate(trips or [])]
    demand = Demand.build([car], routes, flows, trip_list)
    return Scenario("corridor", net, inters, plans, {"A": "p", "B": "p"}, demand,
                    route_groups={"main": ("main",)}, end_s=horizon_s)
