"""Arterial corridors: ordered signals, their through movements, green windows and travel times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signal_control.errors import OptimizerError
from signal_control.movement_demand import MovementFlow
from traffic.intersection import Turn
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True)
class Corridor:
    """Signals along an arterial, in the outbound direction.

    Attributes:
        intersections: intersection ids, outbound order.
        outbound, inbound: the through movement of each direction at each signal.
        positions_m: distance of each stop line from the first, outbound.
        out_link_s, in_link_s: travel time between consecutive stop lines at the design speed
            (length ``n - 1``; ``in_link_s[i]`` is from signal i + 1 back to signal i).
    """

    intersections: tuple[str, ...]
    outbound: tuple[str, ...]
    inbound: tuple[str, ...]
    positions_m: tuple[float, ...]
    out_link_s: tuple[float, ...]
    in_link_s: tuple[float, ...]


def green_window(plan: SignalPlan, movement: str) -> tuple[float, float]:
    """``(start_s, duration_s)`` of the movement's longest run of green (G or g) in the cycle."""
    runs: list[tuple[float, float]] = []
    pos = 0.0
    for index, kind, dur in plan.intervals():
        state = plan.phases[index].state_of(movement, kind)
        if state in "Gg":
            if runs and abs(runs[-1][0] + runs[-1][1] - pos) < 1e-9:
                runs[-1] = (runs[-1][0], runs[-1][1] + dur)
            else:
                runs.append((pos, dur))
        pos += dur
    if not runs:
        raise OptimizerError(f"plan {plan.name!r} of {plan.intersection!r}: movement {movement!r} never gets green")
    if len(runs) > 1 and runs[0][0] == 0.0 and abs(runs[-1][0] + runs[-1][1] - plan.cycle_s) < 1e-9:
        runs[0] = (runs[-1][0], runs[-1][1] + runs[0][1])  # green wrapping the cycle end
        runs.pop()
    return max(runs, key=lambda r: r[1])


def _through(scenario: Scenario, iid: str, from_node: str | None, to_node: str | None) -> str | None:
    """Through movement of intersection iid from the link leaving ``from_node`` to the link towards ``to_node``."""
    net = scenario.network
    best = None
    for m in scenario.intersections[iid].movements.values():
        src, dst = net.links[m.from_link], net.links[m.to_link]
        if to_node is not None and dst.to_node != to_node:
            continue
        if from_node is not None and src.from_node != from_node:
            continue
        if m.turn is Turn.THROUGH:
            return m.id
        best = best or m.id
    return best


def _node_of(scenario: Scenario, name: str) -> str:
    if name in scenario.intersections:
        return name
    for iid, inter in scenario.intersections.items():
        if name in inter.nodes:
            return iid
    raise OptimizerError(f"unknown corridor node {name!r} (signals: {', '.join(sorted(scenario.intersections))})")


def build_corridor(scenario: Scenario, nodes: Sequence[str], speed_factor: float = 1.0) -> Corridor:
    """The corridor through ``nodes`` (intersection or node ids, outbound order).

    Raises:
        OptimizerError: fewer than two signals, an unknown node, or two consecutive signals not
            joined by a link in both directions.
    """
    ids = [_node_of(scenario, n) for n in nodes]
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise OptimizerError(f"a corridor needs two or more distinct signals, got {list(nodes)}")
    net = scenario.network
    node = {iid: scenario.intersections[iid].nodes[0] for iid in ids}
    out_mv, in_mv, pos, t_out, t_in = [], [], [0.0], [], []
    for k, iid in enumerate(ids):
        prev = node[ids[k - 1]] if k > 0 else None
        nxt = node[ids[k + 1]] if k + 1 < len(ids) else None
        mo = _through(scenario, iid, prev, nxt) if nxt else _through(scenario, iid, prev, None)
        mi = _through(scenario, iid, nxt, prev) if prev else _through(scenario, iid, nxt, None)
        if mo is None or mi is None:
            raise OptimizerError(f"corridor {list(nodes)}: no through movement at {iid!r}")
        out_mv.append(mo)
        in_mv.append(mi)
    for k in range(len(ids) - 1):
        a, b = node[ids[k]], node[ids[k + 1]]
        fwd = [lk for lk in net.outgoing(a) if lk.to_node == b]
        back = [lk for lk in net.outgoing(b) if lk.to_node == a]
        if not fwd or not back:
            raise OptimizerError(f"corridor: signals {ids[k]!r} and {ids[k + 1]!r} are not joined by links both ways")
        m_out, m_in = net.movements[out_mv[k]], net.movements[in_mv[k + 1]]
        t_out.append(fwd[0].length_m / (fwd[0].speed_m_s * speed_factor) + m_out.internal_time_s)
        t_in.append(back[0].length_m / (back[0].speed_m_s * speed_factor) + m_in.internal_time_s)
        pos.append(pos[-1] + fwd[0].length_m + m_out.internal_length_m)
    return Corridor(tuple(ids), tuple(out_mv), tuple(in_mv), tuple(pos), tuple(t_out), tuple(t_in))


def find_corridor(scenario: Scenario, demand: Mapping[str, MovementFlow]) -> list[str]:
    """The straight chain of signals (through movements) carrying the most through traffic."""
    net = scenario.network
    node_to_iid = {n: iid for iid, inter in scenario.intersections.items() for n in inter.nodes}
    best: tuple[float, list[str]] = (-1.0, [])
    for iid, inter in scenario.intersections.items():
        for m in inter.movements.values():
            if m.turn is not Turn.THROUGH or net.links[m.from_link].from_node in node_to_iid:
                continue  # start chains at signals entered from outside the signal set
            chain, load, cur = [iid], demand.get(m.id, MovementFlow(0, 0)).veh_h, m
            while True:
                nxt_node = net.links[cur.to_link].to_node
                nxt = node_to_iid.get(nxt_node)
                if nxt is None or nxt in chain:
                    break
                follow = [x for x in scenario.intersections[nxt].movements.values()
                          if x.from_link == cur.to_link and x.turn is Turn.THROUGH]
                if not follow:
                    break
                cur = follow[0]
                chain.append(nxt)
                load += demand.get(cur.id, MovementFlow(0, 0)).veh_h
            if len(chain) >= 2 and load > best[0]:
                best = (load, chain)
    if not best[1]:
        raise OptimizerError(f"scenario {scenario.name!r}: no chain of two or more signals to coordinate")
    return best[1]
