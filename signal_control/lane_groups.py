"""Lane-group flows, saturation flows and flow ratios y = q / s (HCM), against a plan's phasing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from signal_control.movement_demand import MovementFlow
from signal_control.params import SaturationFlows
from traffic.intersection import Intersection, LaneGroup, Turn
from traffic.network import Network
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True, slots=True)
class LaneGroupLoad:
    """One lane group under a plan.

    Attributes:
        flow_pcu_h: demand of the group (PCU/h), its movements' flows split over their lanes.
        saturation_pcu_h: saturation flow of the whole group (all its lanes), turn-adjusted.
        phase: index of the phase that serves it (the first with most of its movements green).
    """

    group: LaneGroup
    flow_veh_h: float
    flow_pcu_h: float
    saturation_pcu_h: float
    phase: int

    @property
    def flow_ratio(self) -> float:
        return self.flow_pcu_h / self.saturation_pcu_h


def movement_lane_shares(network: Network, inter: Intersection) -> dict[tuple[str, str], float]:
    """``(lane group id, movement id) -> share`` of the movement's flow that uses the group's lanes."""
    shares: dict[tuple[str, str], float] = {}
    for mid, m in inter.movements.items():
        lanes = network.links[m.from_link].lanes_serving(mid) or m.from_lanes
        for g in inter.lane_groups:
            if mid in g.movements:
                used = sum(1 for lane in g.lanes if lane in lanes)
                shares[(g.id, mid)] = used / len(lanes)
    return shares


def lane_group_loads(network: Network, inter: Intersection, plan: SignalPlan,
                     demand: Mapping[str, MovementFlow], sat: SaturationFlows) -> list[LaneGroupLoad]:
    """Flow, saturation flow and serving phase of every lane group of ``inter`` under ``plan``."""
    shares = movement_lane_shares(network, inter)
    permissive = set().union(*(p.permissive for p in plan.phases))
    loads = []
    for g in inter.lane_groups:
        q_veh = q_pcu = q_equiv = 0.0
        for mid in g.movements:
            share = shares[(g.id, mid)]
            f = demand.get(mid, MovementFlow(0.0, 0.0))
            q_veh += f.veh_h * share
            q_pcu += f.pcu_h * share
            q_equiv += f.pcu_h * share * _equivalent(inter, plan, mid, mid in permissive, demand, sat)
        if g.saturation_flow_veh_h is not None:
            s_group = g.saturation_flow_veh_h * g.num_lanes
        else:
            only_left = all(inter.movements[m].turn in (Turn.LEFT, Turn.UTURN) and m not in permissive
                            for m in g.movements)
            base = sat.left_protected_pcu_h if only_left else sat.through_pcu_h
            # turn equivalents lower the group's saturation flow in proportion to its mix
            factor = q_pcu / q_equiv if q_equiv > 0 and not only_left else 1.0
            s_group = base * g.num_lanes * factor
        loads.append(LaneGroupLoad(g, q_veh, q_pcu, s_group, _serving_phase(plan, g)))
    return loads


def _equivalent(inter: Intersection, plan: SignalPlan, mid: str, permissive: bool,
                demand: Mapping[str, MovementFlow], sat: SaturationFlows) -> float:
    turn = inter.movements[mid].turn
    if turn is Turn.RIGHT:
        return sat.right_pce
    if turn not in (Turn.LEFT, Turn.UTURN):
        return 1.0
    if not permissive:
        return sat.left_protected_pce
    # opposing through traffic: the movements it yields to that are green at the same time
    along = set().union(*(p.green_movements for p in plan.phases if mid in p.permissive))
    opposing = sum(demand.get(b, MovementFlow(0.0, 0.0)).veh_h for a, b in inter.yields
                   if a == mid and b in along and inter.movements[b].turn is Turn.THROUGH)
    xs, ys = zip(*sat.left_permissive_pce, strict=True)
    return float(np.interp(opposing, xs, ys))


def _serving_phase(plan: SignalPlan, group: LaneGroup) -> int:
    counts = [sum(1 for m in group.movements if m in p.green_movements) for p in plan.phases]
    return int(np.argmax(counts))
