"""Turn finished runs into the metrics of ``greenwave simulate`` (definitions: SUMO tripinfo,
reference REPORT.md section 2), and combine seeds into means and standard deviations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulation.engine import Simulation
from simulation.model import Vehicle
from traffic.network import JAM_SPACING_M

TRIP_METRICS = ("mean_travel_time_s", "mean_time_loss_s", "mean_waiting_time_s", "mean_stops",
                "mean_depart_delay_s")


def run_metrics(sim: Simulation) -> dict[str, Any]:
    """Metrics of one run: trip means over arrived vehicles, lane groups and route groups.

    The ``*_all_*`` figures also count the vehicles still driving at the end, as SUMO's
    ``--tripinfo-output.write-unfinished`` does (vehicles never inserted are not counted), and
    ``mean_delay_all_s`` is the mean of time loss + depart delay over those trips (RESCO's metric).
    """
    log = sim.log
    sc = sim.scenario
    travel = np.asarray(log.travel_time_s)
    loss = np.asarray(log.time_loss_s)
    arrival = np.asarray(log.arrival_s)
    depart_delay = np.asarray(log.depart_delay_s)
    n = travel.size
    unfinished = unfinished_trips(sim)
    loss_all = np.concatenate([loss, unfinished["time_loss_s"]])
    delay_all = np.concatenate([depart_delay, unfinished["depart_delay_s"]])

    def mean(a: np.ndarray) -> float:
        return float(a.mean()) if a.size else float("nan")

    metrics = {
        "inserted": sim.inserted,
        "arrived": n,
        "arrived_by_end_of_demand": int((arrival <= sc.end_s).sum()),
        "still_in_network": sim.in_network(),
        "not_inserted": sim.total - sim.inserted,
        "teleports": sim.teleports,
        "mean_travel_time_s": mean(travel),
        "mean_time_loss_s": mean(loss),
        "mean_waiting_time_s": mean(np.asarray(log.waiting_s)),
        "mean_stops": mean(np.asarray(log.stops, dtype=float)),
        "mean_depart_delay_s": mean(depart_delay),
        "mean_time_loss_all_s": mean(loss_all),
        "mean_depart_delay_all_s": mean(delay_all),
        "mean_delay_all_s": mean(loss_all + delay_all),
        "vehicle_seconds": float(travel.sum() + unfinished["travel_time_s"].sum()),
        "end_s": sim.end_s,
    }
    return {"metrics": metrics, "lane_groups": _lane_groups(sim), "route_groups": _route_groups(sim, travel, loss)}


def unfinished_trips(sim: Simulation) -> dict[str, np.ndarray]:
    """Vehicles still in the network, measured as SUMO's ``--tripinfo-output.write-unfinished`` does.

    Returns arrays in the order of vehicle id: ``travel_time_s`` so far, ``time_loss_s`` so far
    (elapsed time minus the ideal time of the distance driven), ``depart_delay_s`` and ``flow`` (the
    index of the flow or trip in ``sim.flow_names``). A vehicle standing in a queue has driven its
    link up to its place in the queue (7.5 m per vehicle ahead); one still driving has covered its
    link at its free-flow speed so far.
    """
    now = sim.env.now
    dawdle = sim.params.dawdle
    rest: dict[int, tuple[Vehicle, float]] = {}  # vid -> (vehicle, ideal time of the part not driven yet)
    for link in sim.links.values():
        for lane in link.lanes:
            standing = 0
            for v in lane.queue:
                vmax = min(link.speed_m_s * v.sf, v.max_speed_m_s)
                if v.stop_arrival_s <= now:
                    rest[v.vid] = (v, standing * JAM_SPACING_M / vmax)
                    standing += 1
                else:
                    rest[v.vid] = (v, min(link.length_m / vmax, (v.stop_arrival_s - now) * dawdle))
    for mv in sim.moves.values():
        if mv.slot is not None:
            for v in mv.slot.queue:
                rest[v.vid] = (v, 0.0)
    for v, link in sim.on_last_link.values():
        vmax = min(link.speed_m_s * v.sf, v.max_speed_m_s)
        rest[v.vid] = (v, min(link.length_m / vmax, max(0.0, v.stop_arrival_s - now) * dawdle))
    vs = [rest[k] for k in sorted(rest)]
    travel = np.array([now - v.depart_s for v, _ in vs], dtype=float)
    loss = np.array([(now - v.depart_s) - (v.ideal_s - r) for v, r in vs], dtype=float)
    return {"travel_time_s": travel, "time_loss_s": np.maximum(loss, 0.0),
            "depart_delay_s": np.array([v.depart_s - v.depart_sched_s for v, _ in vs], dtype=float),
            "flow": np.array([v.flow for v, _ in vs], dtype=int)}


def _lane_groups(sim: Simulation) -> list[dict[str, Any]]:
    hours = max(sim.scenario.end_s - sim.scenario.begin_s, 1.0) / 3600.0
    out = []
    stats = sim.group_stats()
    longest = sim.group_max_delay_s()
    queues: dict[tuple[str, str], list[float]] = {}
    if sim.detectors is not None:
        for c in sim.detectors.history:
            for group, q in c.queues_veh.items():
                queues.setdefault((c.intersection or "", group), []).append(q)
    for iid, inter in sim.scenario.intersections.items():
        for g in inter.lane_groups:
            n, delay, pcu = stats.get(f"{iid}/{g.id}", (0, 0.0, 0.0))
            row = {"node": iid, "approach": g.approach, "lane_group": g.id, "lanes": list(g.lanes),
                   "movements": list(g.movements), "vehicles": n, "flow_veh_h": n / hours,
                   "flow_pcu_h": pcu / hours, "control_delay_s": delay / n if n else float("nan"),
                   "max_control_delay_s": longest.get(f"{iid}/{g.id}", float("nan")) if n else float("nan")}
            if sim.detectors is not None:
                row["queue_veh"] = queues.get((iid, g.id), [])
            out.append(row)
    return out


def _route_groups(sim: Simulation, travel: np.ndarray, loss: np.ndarray) -> dict[str, dict[str, float]]:
    routes = np.asarray([sim.route_names[r] or "" for r in sim.log.route])
    stops = np.asarray(sim.log.stops, dtype=float)
    out = {}
    for name, members in sim.scenario.route_groups.items():
        mask = np.isin(routes, list(members)) if routes.size else np.zeros(0, bool)
        k = int(mask.sum())
        out[name] = {"n": k,
                     "mean_travel_time_s": float(travel[mask].mean()) if k else float("nan"),
                     "mean_time_loss_s": float(loss[mask].mean()) if k else float("nan"),
                     "mean_stops": float(stops[mask].mean()) if k else float("nan")}
    return out


def combine_seeds(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean of every figure over seeds, with an ``sd`` block beside each block."""
    first = runs[0]
    metric_keys = list(first["metrics"])
    metrics = {k: _mean([r["metrics"][k] for r in runs]) for k in metric_keys}
    metrics_sd = {k: _sd([r["metrics"][k] for r in runs]) for k in metric_keys}
    lane_groups, lane_groups_sd = [], []
    for i, lg in enumerate(first["lane_groups"]):
        vals = [r["lane_groups"][i] for r in runs]
        merged = {**lg, **{k: _mean([v[k] for v in vals]) for k in ("vehicles", "flow_veh_h", "flow_pcu_h",
                                                                     "control_delay_s")}}
        if "queue_veh" in lg:  # mean over seeds, interval by interval, as far as every run went
            steps = min(len(v["queue_veh"]) for v in vals)
            merged["queue_veh"] = [_mean([v["queue_veh"][k] for v in vals]) for k in range(steps)]
        lane_groups.append(merged)
        lane_groups_sd.append({"node": lg["node"], "lane_group": lg["lane_group"],
                               **{k: _sd([v[k] for v in vals]) for k in ("flow_veh_h", "control_delay_s")}})
    route_groups, route_groups_sd = {}, {}
    for name in first["route_groups"]:
        vals = [r["route_groups"][name] for r in runs]
        route_groups[name] = {k: _mean([v[k] for v in vals]) for k in vals[0]}
        route_groups_sd[name] = {k: _sd([v[k] for v in vals]) for k in vals[0]}
    return {"metrics": metrics, "lane_groups": lane_groups, "route_groups": route_groups,
            "sd": {"metrics": metrics_sd, "lane_groups": lane_groups_sd, "route_groups": route_groups_sd}}


def _mean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _sd(values: list[float]) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.std(ddof=1)) if arr.size > 1 else 0.0
