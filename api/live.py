"""The live view: plans in force, pending activations, modes and the latest counts, kept in memory.

The API runs as one process, so this cache is refreshed by the handlers that change the database
(after their commit) and read lock-free by the status endpoints. Time is the app clock (seconds
since the Unix epoch): the position in a plan's cycle is ``(t - offset_s) mod cycle_s`` for the
scenario's initial plans; an activated plan starts its phase 0 at the boundary where it takes effect.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import store
from api.db import Activation, Camera, Control, CountInterval, CountRow, Plan
from api.los import lane_group_figures, worst_los
from traffic.counts import Health
from traffic.pcu import pcu_of, scenario_pcu
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan

ACTIVATIONS_KEPT = 200
STALE_INTERVALS = 3  # a camera silent for this many of its intervals is reported lost
LOADED_INTERVALS = 20  # newest stored intervals per intersection read at start-up
DEFAULT_MAX_CLOCK_SKEW_S = 300.0


@dataclass(frozen=True, slots=True)
class PlanRec:
    id: int
    name: str
    version: int
    plan: SignalPlan


@dataclass(frozen=True, slots=True)
class ActivationRec:
    id: int
    plan_id: int
    kind: str
    effective_at: float


@dataclass(frozen=True, slots=True)
class LatestInterval:
    id: int
    camera: str
    start_s: float
    duration_s: float
    health: str
    flows_veh_h: dict[str, float]
    vehicles: dict[str, int]
    queues_veh: dict[str, float]
    flows_pcu_h: dict[str, float]

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def latest_interval(row_id: int, camera: str, start_s: float, duration_s: float, health: str,
                    counts: dict[str, dict[str, int]], queues_veh: dict[str, float],
                    pcu: dict[str, float]) -> LatestInterval:
    """A camera's interval as the live view keeps it: vehicles, veh/h and PCU/h per movement or approach."""
    vehicles = {k: sum(by_class.values()) for k, by_class in counts.items()}
    per_h = 3600.0 / duration_s
    return LatestInterval(row_id, camera, start_s, duration_s, health, {k: v * per_h for k, v in vehicles.items()},
                          vehicles, dict(queues_veh),
                          {k: pcu_of(by_class, pcu) * per_h for k, by_class in counts.items()})


class LiveState:
    """In-memory view of what runs at every intersection of the managed scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._lock = threading.RLock()
        self.plans: dict[int, PlanRec] = {}
        self.running: dict[int, PlanRec] = {}  # activation id -> the plan as it runs (anchored)
        self.activations: dict[str, list[ActivationRec]] = {i: [] for i in scenario.intersections}
        self.modes: dict[str, tuple[str, int]] = {}
        self.cameras: dict[str, str] = {}
        self.latest: dict[str, dict[str, LatestInterval]] = {i: {} for i in scenario.intersections}
        self._derived: dict[str, tuple[tuple, list[dict[str, Any]]]] = {}
        self.pcu = scenario_pcu(scenario)  # one PCU table for every figure of the live view
        self.controller_modes: dict[str, dict[str, Any]] = {}  # the live loop's, per intersection (api.live_loop)

    # --- loading --------------------------------------------------------------------------------
    def load(self, session: Session, now_s: float | None = None,
             max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S) -> None:
        """Fill the view from the database; intervals ending more than ``max_clock_skew_s`` after ``now_s``
        (a camera clock far ahead, stored before that was refused) are ignored, never the "latest"."""
        for iid in self.scenario.intersections:
            self.reload_intersection(session, iid)
        for cam in session.scalars(select(Camera)):
            self.cameras[cam.id] = cam.intersection
        for iid in self.scenario.intersections:
            query = select(CountInterval).where(CountInterval.intersection == iid)
            if now_s is not None:
                query = query.where(CountInterval.start_s + CountInterval.duration_s <= now_s + max_clock_skew_s)
            rows = session.scalars(query.order_by(CountInterval.start_s.desc()).limit(LOADED_INTERVALS)).all()
            for row in reversed(rows):
                self.add_interval(session, row)

    def reload_intersection(self, session: Session, iid: str) -> None:
        # the newest activations are enough for the plan in force, a pending one and rollback
        acts = list(reversed(session.scalars(select(Activation).where(Activation.intersection == iid)
                                             .order_by(Activation.id.desc()).limit(ACTIVATIONS_KEPT)).all()))
        recs = [ActivationRec(a.id, a.plan_id, a.kind, a.effective_at) for a in acts]
        for a in recs:
            if a.plan_id not in self.plans:
                row = session.get(Plan, a.plan_id)
                assert row is not None
                self.plans[a.plan_id] = PlanRec(row.id, row.name, row.version, store.plan_of(row))
            if a.id not in self.running:
                self.running[a.id] = anchored(self.plans[a.plan_id], a)
        ctl = session.get(Control, iid)
        with self._lock:
            self.activations[iid] = recs
            self.modes[iid] = (ctl.mode, ctl.version) if ctl else ("fixed", 0)

    def add_interval(self, session: Session, row: CountInterval) -> None:
        """Make a stored interval the camera's latest (if it is newer than what we have)."""
        cur = self.latest.setdefault(row.intersection, {}).get(row.camera)
        if cur is not None and cur.start_s >= row.start_s:
            return
        counts: dict[str, dict[str, int]] = {}
        for r in session.scalars(select(CountRow).where(CountRow.interval_id == row.id)):
            by_class = counts.setdefault(r.movement, {})
            by_class[r.vehicle_class] = by_class.get(r.vehicle_class, 0) + r.vehicles
        self.set_latest(row.intersection, latest_interval(row.id, row.camera, row.start_s, row.duration_s,
                                                          row.health, counts, store_json(row.queues), self.pcu))

    def set_latest(self, iid: str, latest: LatestInterval) -> None:
        with self._lock:
            cur = self.latest.setdefault(iid, {}).get(latest.camera)
            if cur is None or cur.start_s < latest.start_s:
                self.latest[iid] = {**self.latest[iid], latest.camera: latest}

    # --- queries --------------------------------------------------------------------------------
    def in_force(self, iid: str, t_s: float) -> tuple[PlanRec, ActivationRec | None]:
        """The plan in force at ``t_s`` and the pending activation (None if none)."""
        acts = self.activations[iid]
        current = None
        pending = None
        for a in acts:
            if a.effective_at <= t_s:
                if current is None or a.id > current.id:
                    current = a
            elif pending is None or a.id > pending.id:
                pending = a
        assert current is not None, f"no plan in force at {iid}"
        if pending is not None and pending.id < current.id:
            pending = None
        return self.running[current.id], pending

    def previous_plan(self, iid: str, t_s: float) -> PlanRec | None:
        """The plan that was in force before the current one."""
        current, _ = self.in_force(iid, t_s)
        effective = [a for a in self.activations[iid] if a.effective_at <= t_s]
        seen_current = False
        for a in sorted(effective, key=lambda a: a.id, reverse=True):
            if not seen_current:
                seen_current = a.plan_id == current.id
                continue
            if a.plan_id != current.id:
                return self.plans[a.plan_id]
        return None

    def phase_key(self, iid: str, t_s: float) -> tuple[int, int, str]:
        rec, _ = self.in_force(iid, t_s)
        index, kind, _ = rec.plan.interval_at(t_s)
        return rec.id, index, str(kind)

    def status(self, iid: str, t_s: float) -> dict[str, Any]:
        """Live status of one intersection at ``t_s`` (see ``IntersectionStatus``)."""
        rec, pending = self.in_force(iid, t_s)
        plan = rec.plan
        index, kind, left = plan.interval_at(t_s)
        mode, mode_version = self.modes[iid]
        latest = self.latest.get(iid, {})
        groups = self._lane_groups(iid, rec, latest)
        counts = None
        if latest:
            newest = max(latest.values(), key=lambda x: x.start_s)
            per_movement: dict[str, int] = {}
            for li in latest.values():
                for k, v in li.vehicles.items():
                    per_movement[k] = per_movement.get(k, 0) + v
            counts = {"start_s": newest.start_s, "duration_s": newest.duration_s, "vehicles": per_movement}
        return {
            "intersection": iid, "at_s": t_s, "mode": mode, "mode_version": mode_version,
            "controller": self.controller_modes.get(iid, {"mode": "adaptive", "reason": "", "since_s": None}),
            "effective_mode": effective_mode(mode, self.controller_modes.get(iid, {}).get("mode")),
            "plan": {"id": rec.id, "name": rec.name, "version": rec.version, "cycle_s": plan.cycle_s,
                     "offset_s": plan.offset_s},
            "phase": {"index": index, "name": plan.phases[index].name, "interval": str(kind),
                      "remaining_s": round(left, 3)},
            "time_in_cycle_s": round(plan.position_s(t_s), 3),
            "pending": None if pending is None else {
                "plan": self.plans[pending.plan_id].name, "version": self.plans[pending.plan_id].version,
                "plan_id": pending.plan_id, "effective_at_s": pending.effective_at},
            "counts": counts, "lane_groups": groups, "los": worst_los(groups),
            "cameras": self._camera_health(iid, latest, t_s),
        }

    def _lane_groups(self, iid: str, rec: PlanRec, latest: dict[str, LatestInterval]) -> list[dict[str, Any]]:
        key = (rec.id, tuple(sorted(li.id for li in latest.values())))
        cached = self._derived.get(iid)
        if cached is not None and cached[0] == key:
            return cached[1]
        flows: dict[str, float] | None = None
        flows_pcu: dict[str, float] = {}
        queues: dict[str, float] = {}
        if latest:
            flows = {}
            for li in latest.values():
                for k, v in li.flows_veh_h.items():
                    flows[k] = flows.get(k, 0.0) + v
                for k, v in li.flows_pcu_h.items():
                    flows_pcu[k] = flows_pcu.get(k, 0.0) + v
                queues.update(li.queues_veh)
        figures = lane_group_figures(self.scenario.intersections[iid], rec.plan, flows, queues or None,
                                     flows_pcu if flows is not None else None)
        self._derived[iid] = (key, figures)
        return figures

    def _camera_health(self, iid: str, latest: dict[str, LatestInterval], t_s: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cams = sorted({c for c, i in self.cameras.items() if i == iid} | set(latest))
        for cam in cams:
            li = latest.get(cam)
            if li is None:
                out.append({"camera": cam, "health": str(Health.UNKNOWN), "last_interval_end_s": None})
                continue
            end = li.start_s + li.duration_s
            health = str(Health.LOST) if t_s - end > STALE_INTERVALS * li.duration_s else li.health
            out.append({"camera": cam, "health": health, "last_interval_end_s": end})
        return out


def effective_mode(mode: str, controller_mode: str | None) -> str:
    """What an intersection runs: the operator's mode, except ``failsafe`` when the mode is ``adaptive`` and
    the live loop's health checks hold the intersection in failsafe (its camera data is bad)."""
    return "failsafe" if mode == "adaptive" and controller_mode == "failsafe" else mode


def anchored(rec: PlanRec, activation: ActivationRec) -> PlanRec:
    """The plan as it runs after this activation.

    The scenario's initial plans keep SUMO offset semantics from the epoch; an activated plan
    starts its phase 0 at the cycle boundary where it takes effect (as the simulator's
    ``SignalTimer`` does), so no phase is cut short by a plan change.
    """
    if activation.kind == "initial":
        return rec
    return PlanRec(rec.id, rec.name, rec.version, rec.plan.with_offset(activation.effective_at))


def store_json(text: str) -> dict[str, float]:
    import json

    value = json.loads(text or "{}")
    return {str(k): float(v) for k, v in value.items()}
