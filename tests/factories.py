"""Hand-built test scenarios: a 4-leg intersection with a protected-left phasing."""

from __future__ import annotations

from traffic.demand import Demand, Flow, FlowSlice, Route
from traffic.intersection import Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.scenario_io import make_intersection
from traffic.signal_plan import Phase, SignalPlan
from traffic.vehicles import VehicleType

ARMS = {"N": (0.0, 300.0), "E": (300.0, 0.0), "S": (0.0, -300.0), "W": (-300.0, 0.0)}
# approach -> (right exit, through exit, left exit), driving on the right
TURNS = {"N": ("W", "S", "E"), "E": ("N", "W", "S"), "S": ("E", "N", "W"), "W": ("S", "E", "N")}


def mid(approach: str, turn: str) -> str:
    exits = dict(zip("rsl", TURNS[approach], strict=True))
    return f"{approach}_C>C_{exits[turn]}"


def make_cross_network() -> Network:
    nodes = [Node("C", NodeKind.SIGNAL)] + [Node(k, NodeKind.BOUNDARY, x, y) for k, (x, y) in ARMS.items()]
    movements = []
    for a in ARMS:
        for turn, lane in (("r", 0), ("s", 0), ("l", 1)):
            exits = dict(zip("rsl", TURNS[a], strict=True))
            movements.append(Movement(mid(a, turn), "C", f"{a}_C", f"C_{exits[turn]}", Turn(turn), (lane,), (lane,),
                                      internal_length_m={"r": 9.0, "s": 20.8, "l": 19.4}[turn],
                                      internal_speed_m_s={"r": 6.5, "s": 13.89, "l": 9.3}[turn]))
    links = []
    for a in ARMS:
        links.append(Link(f"{a}_C", a, "C", (Lane(0, 289.6, 13.89, (mid(a, "r"), mid(a, "s"))),
                                            Lane(1, 289.6, 13.89, (mid(a, "l"),)))))
        links.append(Link(f"C_{a}", "C", a, (Lane(0, 289.6, 13.89), Lane(1, 289.6, 13.89))))
    return Network.build(nodes, links, movements)


def cross_conflicts() -> frozenset[frozenset[str]]:
    """Crossing and merging conflicts of the 4-leg cross (opposing lefts do not conflict)."""
    pairs = set()
    opposite = {"N": "S", "S": "N", "E": "W", "W": "E"}
    left_of = {"N": "E", "E": "S", "S": "W", "W": "N"}  # the approach to the left of the driver
    for a in ARMS:
        b = left_of[a]
        for x in ("s", "l"):
            for y in ("s", "l"):
                pairs.add(frozenset((mid(a, x), mid(b, y))))
        pairs.add(frozenset((mid(a, "l"), mid(opposite[a], "s"))))
        pairs.add(frozenset((mid(a, "l"), mid(opposite[a], "r"))))
        pairs.add(frozenset((mid(a, "r"), mid(b, "s"))))
    return frozenset(pairs)


def ns_ew_plan(name: str = "base", green_s: float = 25.0, left_s: float = 10.0) -> SignalPlan:
    def phase(label: str, moves: list[str], g: float) -> Phase:
        return Phase(label, g, 3.0, 2.0, protected=frozenset(moves))

    phases = (phase("NS_through", [mid(a, t) for a in "NS" for t in "rs"], green_s),
              phase("NS_left", [mid(a, "l") for a in "NS"], left_s),
              phase("EW_through", [mid(a, t) for a in "EW" for t in "rs"], green_s),
              phase("EW_left", [mid(a, "l") for a in "EW"], left_s))
    return SignalPlan("C", name, sum(p.duration_s for p in phases), 0.0, phases)


def make_cross_scenario(flow_veh_h: float = 300.0) -> Scenario:
    net = make_cross_network()
    inter = make_intersection(net, "C", ("C",), conflicts=cross_conflicts())
    routes = [Route(f"{a}_{t}", (f"{a}_C", f"C_{dict(zip('rsl', TURNS[a], strict=True))[t]}"))
              for a in ARMS for t in "rsl"]
    flows = [Flow(r.id, (FlowSlice(0, 3600, flow_veh_h),), route=r.id) for r in routes]
    demand = Demand.build([VehicleType("car")], routes, flows)
    plan = ns_ew_plan()
    return Scenario("cross", net, {"C": inter}, {"C": {plan.name: plan}}, {"C": plan.name}, demand,
                    route_groups={"N_through": ("N_s",)})
