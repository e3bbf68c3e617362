"""Readable text summaries of scenarios and plans (what ``greenwave scenario show`` prints)."""

from __future__ import annotations

from collections import Counter

from traffic.network import NodeKind
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan


def describe_plan(plan: SignalPlan, indent: str = "      ") -> list[str]:
    lines = []
    for i, p in enumerate(plan.phases):
        label = p.name or f"phase {i}"
        served = [*(f"{m}" for m in sorted(p.protected)), *(f"{m} (perm.)" for m in sorted(p.permissive))]
        carry = f"; carried over: {', '.join(sorted(p.carry_over))}" if p.carry_over else ""
        lines.append(f"{indent}{label}: green {p.green_s:g} s, yellow {p.yellow_s:g} s, all-red {p.all_red_s:g} s"
                     f" -> {', '.join(served)}{carry}")
    return lines


def describe_scenario(sc: Scenario, max_intersections: int = 12) -> str:
    net = sc.network
    kinds = Counter(n.kind for n in net.nodes.values())
    storage = sum(link.storage_capacity_veh() for link in net.links.values())
    out = [f"Scenario {sc.name!r}" + (f": {sc.description}" if sc.description else ""),
           f"Window: {sc.begin_s:g} to {sc.end_s:g} s ({(sc.end_s - sc.begin_s) / 3600:.2f} h)",
           f"Network: {len(net.nodes)} nodes ({kinds[NodeKind.SIGNAL]} signalised, {kinds[NodeKind.PRIORITY]} "
           f"priority, {kinds[NodeKind.BOUNDARY]} boundary), {len(net.links)} links, {len(net.movements)} movements, "
           f"{net.total_lane_length_m() / 1000:.1f} lane-km, jam storage {storage:,} veh",
           f"Intersections: {len(sc.intersections)}"]
    for k, (iid, inter) in enumerate(sorted(sc.intersections.items())):
        if k == max_intersections:
            out.append(f"  ... {len(sc.intersections) - k} more (use --all)")
            break
        out.append(f"  {iid}: {len(inter.approaches)} approaches, {len(inter.movements)} movements, "
                   f"{len(inter.lane_groups)} lane groups, {len(inter.conflicts)} conflicting pairs")
        for g in inter.lane_groups:
            moves = ", ".join(f"{m} ({inter.movements[m].turn.value})" for m in g.movements)
            out.append(f"    lane group {g.id}: lanes {list(g.lanes)}: {moves}")
        active = sc.active_plans[iid]
        for name, plan in sc.plans[iid].items():
            mark = " (active)" if name == active else ""
            out.append(f"    plan {name!r}{mark}: cycle {plan.cycle_s:g} s, offset {plan.offset_s:g} s, "
                       f"{len(plan.phases)} phases")
            if name == active:
                out += describe_plan(plan)
    d = sc.demand
    flow_veh_h = sum(f.flow_veh_h_at(f.begin_s) for f in d.flows)
    types = ", ".join(f"{t.id} ({t.vehicle_class}, {t.pcu:g} PCU)" for t in d.vehicle_types.values())
    out += [f"Demand: {len(d.flows)} flows ({flow_veh_h:,.0f} veh/h at their start), {len(d.trips)} trips, "
            f"{len(d.routes)} routes, about {d.expected_vehicles():,.0f} vehicles; types: {types}",
            f"Route groups: {len(sc.route_groups)}"
            + (f" ({', '.join(list(sc.route_groups)[:8])}{', ...' if len(sc.route_groups) > 8 else ''})"
               if sc.route_groups else "")]
    return "\n".join(out)
