"""Grid scenarios of the reference design (REPORT §3c) built in Python, for benchmarks and tests.

N x N signals 300 m apart; streets with an odd index have 2 lanes each way (lane 0 right+through,
lane 1 through+left), the others 1 lane (right, through, left); lefts permissive, yielding to the
opposing through and right; a 2-phase plan (N-S, then E-W: 40 s green, 3 s yellow, 2 s all-red);
origin-destination flows between fringe links with weights U(0.5, 1.5) x lanes x lanes.
"""

from __future__ import annotations

import numpy as np

from traffic.demand import Demand, Flow, FlowSlice
from traffic.intersection import Intersection, Movement, Turn
from traffic.network import Lane, Link, Network, Node, NodeKind
from traffic.scenario import Scenario
from traffic.scenario_io import make_intersection
from traffic.signal_plan import Phase, SignalPlan
from traffic.vehicles import VehicleType

SPACING_M = 300.0
SPEED_M_S = 13.89
# heading of each approach (the direction the traffic comes from) -> unit vector of travel
TRAVEL = {"N": (0, -1), "E": (-1, 0), "S": (0, 1), "W": (1, 0)}
RIGHT_OF = {"N": "W", "E": "N", "S": "E", "W": "S"}   # exit side of a right turn from each approach
LEFT_OF = {"N": "E", "E": "S", "S": "W", "W": "N"}
OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}


def _lanes(index: int) -> int:
    return 2 if index % 2 == 1 else 1


def make_grid_scenario(n: int, demand_veh_h: float | None = None, seed: int = 1,
                       od_per_entry: int | None = None) -> Scenario:
    """An ``n`` x ``n`` grid; demand defaults to 600 veh/h per signal row (3,000 veh/h at 5 x 5).

    ``od_per_entry`` samples that many destinations per entry (all of them when None).
    """
    rng = np.random.default_rng(seed)
    demand_veh_h = 600.0 * n if demand_veh_h is None else demand_veh_h
    name = lambda i, j: f"n{i}_{j}"  # noqa: E731
    nodes = [Node(name(i, j), NodeKind.SIGNAL, SPACING_M * i, SPACING_M * j) for i in range(n) for j in range(n)]
    fringe = {}
    for k in range(n):
        fringe[("W", k)] = Node(f"W{k}", NodeKind.BOUNDARY, -SPACING_M, SPACING_M * k)
        fringe[("E", k)] = Node(f"E{k}", NodeKind.BOUNDARY, SPACING_M * n, SPACING_M * k)
        fringe[("S", k)] = Node(f"S{k}", NodeKind.BOUNDARY, SPACING_M * k, -SPACING_M)
        fringe[("N", k)] = Node(f"N{k}", NodeKind.BOUNDARY, SPACING_M * k, SPACING_M * n)
    nodes += list(fringe.values())
    pos = {nd.id: (nd.x_m, nd.y_m) for nd in nodes}
    edges: list[tuple[str, str, int]] = []   # (from, to, lanes)
    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                edges += [(name(i, j), name(i + 1, j), _lanes(j)), (name(i + 1, j), name(i, j), _lanes(j))]
            if j + 1 < n:
                edges += [(name(i, j), name(i, j + 1), _lanes(i)), (name(i, j + 1), name(i, j), _lanes(i))]
    for k in range(n):
        for side, inner in (("W", name(0, k)), ("E", name(n - 1, k)), ("S", name(k, 0)), ("N", name(k, n - 1))):
            lanes = _lanes(k)
            edges += [(fringe[(side, k)].id, inner, lanes), (inner, fringe[(side, k)].id, lanes)]
    lanes_of = {(a, b): nl for a, b, nl in edges}
    out_of: dict[str, list[str]] = {}
    for a, b, _ in edges:
        out_of.setdefault(a, []).append(b)
    movements: list[Movement] = []
    lane_moves: dict[tuple[str, str], dict[int, list[str]]] = {}
    for a, b, nl in edges:
        if not b.startswith("n"):
            continue
        side = _side(pos[a], pos[b])
        for c in out_of[b]:
            turn = _turn(side, pos[b], pos[c])
            if turn is None:
                continue
            mid = f"{a}_{b}>{b}_{c}"
            from_lanes: tuple[int, ...] = (0,)
            if nl == 2:
                from_lanes = (0,) if turn is Turn.RIGHT else (1,) if turn is Turn.LEFT else (0, 1)
            to_lanes = (0,) if turn is Turn.RIGHT or lanes_of[(b, c)] == 1 else \
                ((lanes_of[(b, c)] - 1,) if turn is Turn.LEFT else from_lanes)
            movements.append(Movement(mid, b, f"{a}_{b}", f"{b}_{c}", turn, from_lanes,
                                      tuple(min(x, lanes_of[(b, c)] - 1) for x in to_lanes),
                                      internal_length_m={"r": 9.0, "s": 14.4, "l": 16.9}[turn.value],
                                      internal_speed_m_s={"r": 6.5, "s": 13.89, "l": 8.7}[turn.value]))
            for ln in from_lanes:
                lane_moves.setdefault((a, b), {}).setdefault(ln, []).append(mid)
    links = []
    for a, b, nl in edges:
        length = SPACING_M - 17.6 if a.startswith("n") and b.startswith("n") else SPACING_M - 7.2
        lm = lane_moves.get((a, b), {})
        links.append(Link(f"{a}_{b}", a, b, tuple(Lane(k, length, SPEED_M_S, tuple(lm.get(k, ()))) for k in range(nl))))
    net = Network.build(nodes, links, movements)
    intersections: dict[str, Intersection] = {}
    plans: dict[str, dict[str, SignalPlan]] = {}
    for i in range(n):
        for j in range(n):
            nid = name(i, j)
            inter = _intersection(net, nid, pos)
            intersections[nid] = inter
            plans[nid] = {"0": _plan(inter, net, pos)}
    return Scenario(f"grid{n}x{n}", net, intersections, plans, {k: "0" for k in plans},
                    _demand(net, fringe, n, demand_veh_h, rng, od_per_entry),
                    description=f"{n}x{n} grid of the reference design, {demand_veh_h:g} veh/h")


def _side(a: tuple[float, float], b: tuple[float, float]) -> str:
    """Side of node b that traffic from a enters on."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if abs(dx) > abs(dy):
        return "W" if dx > 0 else "E"
    return "S" if dy > 0 else "N"


def _turn(side: str, b: tuple[float, float], c: tuple[float, float]) -> Turn | None:
    exit_side = {v: k for k, v in {"W": "E", "E": "W", "S": "N", "N": "S"}.items()}
    dx, dy = c[0] - b[0], c[1] - b[1]
    toward = ("E" if dx > 0 else "W") if abs(dx) > abs(dy) else ("N" if dy > 0 else "S")
    if toward == exit_side[side]:
        return Turn.THROUGH
    if toward == RIGHT_OF[side]:
        return Turn.RIGHT
    if toward == LEFT_OF[side]:
        return Turn.LEFT
    return None


def _intersection(net: Network, nid: str, pos: dict) -> Intersection:
    moves = net.movements_at([nid])
    side = {m.id: _side(pos[net.links[m.from_link].from_node], pos[nid]) for m in moves}
    conflicts, yields = set(), set()
    for a in moves:
        for b in moves:
            if a.id >= b.id:
                continue
            sa, sb = side[a.id], side[b.id]
            if (sa in "NS" and sb in "EW") or (sa in "EW" and sb in "NS"):
                conflicts.add(frozenset((a.id, b.id)))
            elif sb == OPPOSITE[sa]:
                for x, y in ((a, b), (b, a)):
                    if x.turn is Turn.LEFT and y.turn in (Turn.THROUGH, Turn.RIGHT):
                        conflicts.add(frozenset((x.id, y.id)))
                        yields.add((x.id, y.id))
    return make_intersection(net, nid, (nid,), conflicts=frozenset(conflicts), yields=frozenset(yields))


def _plan(inter, net: Network, pos: dict) -> SignalPlan:
    phases = []
    for label, sides in (("NS", "NS"), ("EW", "EW")):
        ms = [m for m in inter.movements.values()
              if _side(pos[net.links[m.from_link].from_node], pos[inter.id]) in sides]
        phases.append(Phase(f"{label}_green", 40.0, 3.0, 2.0,
                            protected=frozenset(m.id for m in ms if m.turn is not Turn.LEFT),
                            permissive=frozenset(m.id for m in ms if m.turn is Turn.LEFT)))
    return SignalPlan(inter.id, "0", 90.0, 0.0, tuple(phases))


def _demand(net: Network, fringe: dict, n: int, total: float, rng: np.random.Generator,
            od_per_entry: int | None) -> Demand:
    entries = [(side, k, f"{fringe[(side, k)].id}_{_inner(side, k, n)}") for side, k in fringe]
    exits = [(side, k, f"{_inner(side, k, n)}_{fringe[(side, k)].id}") for side, k in fringe]
    pairs = []
    for si, ki, e_in in entries:
        dests = [(so, ko, e_out) for so, ko, e_out in exits if (so, ko) != (si, ki)]
        if od_per_entry is not None and od_per_entry < len(dests):
            dests = [dests[x] for x in rng.choice(len(dests), od_per_entry, replace=False)]
        for _, ko, e_out in dests:
            pairs.append((e_in, e_out, rng.uniform(0.5, 1.5) * _lanes(ki) * _lanes(ko)))
    scale = total / sum(w for *_, w in pairs)
    flows = [Flow(f"{a}__{b}", (FlowSlice(0.0, 3600.0, w * scale),), origin=a, destination=b)
             for a, b, w in pairs]
    return Demand.build([VehicleType("car")], [], flows)


def _inner(side: str, k: int, n: int) -> str:
    return {"W": f"n0_{k}", "E": f"n{n - 1}_{k}", "S": f"n{k}_0", "N": f"n{k}_{n - 1}"}[side]
