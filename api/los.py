"""Lane-group performance from the last interval's counts and the active plan: v/c, delay, HCM LOS.

Control delay uses ``signal_control.webster.hcm_delay_s``: Webster's uniform delay plus the HCM
2000 incremental term (pretimed, T = 1 h). Saturation flow per lane: 1721 PCU/h for a group with
any through or right movement, 1666 PCU/h for a left-turn-only group (protected left), unless the
scenario gives its own per-lane value. Saturation flows are in passenger-car units, so v/c, delay and
LOS use the demand in PCU/h (vehicles by class through ``traffic.pcu``): 100 motorbikes are not 100 cars.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signal_control.webster import hcm_delay_s
from traffic.intersection import Intersection, LaneGroup, Turn
from traffic.signal_plan import SignalPlan

SAT_THROUGH_PCU_H = 1721.0
SAT_LEFT_PCU_H = 1666.0
SAT_THROUGH_VEH_H = SAT_THROUGH_PCU_H  # former names (the values were always per passenger car)
SAT_LEFT_VEH_H = SAT_LEFT_PCU_H
# HCM signalised intersections: upper bound of control delay (s/veh) for each level of service
LOS_LIMITS_S: tuple[tuple[float, str], ...] = ((10.0, "A"), (20.0, "B"), (35.0, "C"), (55.0, "D"), (80.0, "E"))


def level_of_service(delay_s: float) -> str:
    """HCM level of service of a signalised lane group from its control delay (s/veh)."""
    for limit, letter in LOS_LIMITS_S:
        if delay_s <= limit:
            return letter
    return "F"


def group_saturation_pcu_h(inter: Intersection, group: LaneGroup) -> float:
    """Saturation flow of the whole lane group (PCU/h)."""
    if group.saturation_flow_veh_h is not None:
        per_lane = group.saturation_flow_veh_h
    elif all(inter.movements[m].turn is Turn.LEFT for m in group.movements):
        per_lane = SAT_LEFT_PCU_H
    else:
        per_lane = SAT_THROUGH_PCU_H
    return per_lane * group.num_lanes


group_saturation_veh_h = group_saturation_pcu_h  # former name


def group_green_s(plan: SignalPlan, group: LaneGroup) -> float:
    """Seconds per cycle during which some movement of the group shows green (carry-overs included)."""
    total = 0.0
    for phase in plan.phases:
        served = [m for m in group.movements if m in phase.green_movements]
        if served:
            total += phase.green_s
            if any(m in phase.carry_over for m in served):
                total += phase.yellow_s + phase.all_red_s
    return min(total, plan.cycle_s)


def lane_group_figures(inter: Intersection, plan: SignalPlan, flows_veh_h: Mapping[str, float] | None,
                       queues_veh: Mapping[str, float] | None,
                       flows_pcu_h: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Per lane group: flow (veh/h and PCU/h), saturation (PCU/h), green ratio, v/c, delay, LOS and queue.

    Args:
        flows_veh_h: movement id -> flow of the last interval (None: no counts yet).
        queues_veh: movement id -> queue reported by the camera (None: estimate it).
        flows_pcu_h: movement id -> the same flow in PCU/h (``traffic.pcu``); v/c, delay and LOS use it.
            None: every vehicle counts as one PCU.
    """
    out = []
    for group in inter.lane_groups:
        sat = group_saturation_pcu_h(inter, group)
        green = group_green_s(plan, group)
        row: dict[str, Any] = {"id": group.id, "approach": group.approach, "movements": list(group.movements),
                               "lanes": group.num_lanes, "saturation_pcu_h": round(sat, 1),
                               "saturation_veh_h": round(sat, 1), "green_ratio": round(green / plan.cycle_s, 4)}
        if flows_veh_h is None:
            out.append({**row, "flow_veh_h": None, "flow_pcu_h": None, "v_c": None, "delay_s": None, "los": None,
                        "queue_veh": None, "queue_source": None})
            continue
        pcu_flows = flows_veh_h if flows_pcu_h is None else flows_pcu_h
        flow = sum(flows_veh_h.get(m, 0.0) / len(inter.lane_group_of(m)) for m in group.movements)
        flow_pcu = sum(pcu_flows.get(m, 0.0) / len(inter.lane_group_of(m)) for m in group.movements)
        cap = sat * green / plan.cycle_s
        delay = hcm_delay_s(plan.cycle_s, green, flow_pcu, sat) if cap > 0 else float("inf")
        reported = [queues_veh[m] for m in group.movements if queues_veh and m in queues_veh]
        queue = sum(reported) if reported else flow / 3600.0 * (plan.cycle_s - green)
        out.append({**row, "flow_veh_h": round(flow, 1), "flow_pcu_h": round(flow_pcu, 1),
                    "v_c": round(flow_pcu / cap, 3) if cap > 0 else None,
                    "delay_s": round(delay, 1) if delay != float("inf") else None, "los": level_of_service(delay),
                    "queue_veh": round(queue, 1), "queue_source": "camera" if reported else "estimate"})
    return out


def worst_los(groups: list[dict[str, Any]]) -> str | None:
    letters = [g["los"] for g in groups if g["los"]]
    return max(letters) if letters else None
