"""The live control loop: counts arriving at ``POST /counts`` -> the adaptive controller -> validated plans put
in force at cycle boundaries.

One ``ControlLoop`` per app holds one ``signal_control.adaptive.AdaptiveController`` over the scenario's
intersections. Counts are grouped by detector interval (``interval_s``: the setting, else the duration of the
first counts received); an interval is decided once, when every intersection with a camera has sent its counts
for it, or ``loop_grace_s`` after it ended (the intersections still missing then count as missing: the
controller's own health checks send them to failsafe). Intervals are decided in order; counts arriving for an
interval already decided are stored but not decided on again.

What the controller asks for takes effect according to the operator's mode of each intersection:

- ``adaptive``: the controller's plan sequence (transition cycles, then its plan) is validated
  (``traffic.plan_validation``) and put in force from the end of the cycle in progress, audited with actor
  ``controller``. When the controller's health checks put the intersection in failsafe, it runs its time-of-day
  plan (the schedule's, else the scenario's active plan), reached through the same bounded transitions; an
  alarm is raised, and cleared when the controller takes it back to adaptive;
- ``manual``, ``fixed``, ``failsafe``: the controller's plans never reach the intersection (``api.control``
  runs the operator's plan, the schedule and the time-of-day plan); the controller still watches its data.

The state the loop needs survives a restart (``meta`` row ``live_loop``, written in the same transaction as
the activations of the interval decided): the last interval decided, the controller's mode per intersection
and why. Counts of intervals not yet decided are read back from the database. The controller's smoothed
demand estimate is not stored: after a restart it needs ``min_observed_s`` of counts before it re-plans (the
plans in force stay in force meanwhile).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import alarms, store
from api.control import next_boundary_s, target_plan_name, time_of_day_row
from api.db import Activation, CountInterval, CountRow, Meta, Plan
from traffic.control import SignalState
from traffic.counts import Health, IntervalCounts
from traffic.plan_validation import validate_plan
from traffic.signal_plan import SignalPlan

if TYPE_CHECKING:
    from api.context import AppContext
    from signal_control.adaptive import AdaptiveController

STATE_KEY = "live_loop"
CATCH_UP_INTERVALS = 3
"""Only intervals that ended at most this many intervals ago are decided (after a long silence: server down,
every camera down, a camera sending its backlog)."""
FAILSAFE_ALARM = "failsafe"
REFUSED_ALARM = "plan_refused"
ACTOR = "controller"
log = logging.getLogger("greenwave.api.loop")


@dataclass(frozen=True, slots=True)
class ControllerMode:
    mode: str
    reason: str
    since_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What one interval's decision did: the plans put in force and those held back, per intersection."""

    interval_start_s: float
    applied: dict[str, list[str]]
    held: dict[str, str]
    mode_changes: dict[str, str]


class ControlLoop:
    """See the module docstring. ``note_counts`` is called by the counts route after its commit; ``step``
    decides every interval that is ready (by the loop's thread, or by a test)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.interval_s: float | None = ctx.settings.detector_interval_s
        self.last_bucket: int | None = None
        self.modes: dict[str, ControllerMode] = {}
        self._buckets: dict[int, dict[str, dict[str, IntervalCounts]]] = {}
        self._data_lock = threading.Lock()
        self._step_lock = threading.Lock()
        self._controller: AdaptiveController | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- state ----------------------------------------------------------------------------------
    def load(self, session: Session) -> None:
        """Restore the loop's state and the counts of intervals not yet decided from the database."""
        row = session.get(Meta, STATE_KEY)
        if row is not None:
            state = json.loads(row.value)
            stored_s, last = state.get("interval_s"), state.get("last_bucket")
            self.interval_s = self.interval_s or stored_s
            if last is not None and stored_s and self.interval_s != stored_s:
                # the interval was reconfigured: decide from the first new interval after the last one decided
                last = math.ceil((last + 1) * stored_s / self.interval_s) - 1
            self.last_bucket = last
            self.modes = {iid: ControllerMode(m["mode"], m["reason"], m["since_s"])
                          for iid, m in state.get("modes", {}).items() if iid in self.ctx.scenario.intersections}
        self._publish_modes()
        if self.interval_s is None or self.last_bucket is None:
            return
        since = (self.last_bucket + 1) * self.interval_s - self.interval_s
        rows = session.scalars(select(CountInterval).where(CountInterval.start_s >= since)
                               .order_by(CountInterval.start_s)).all()
        for r in rows:
            counts: dict[str, dict[str, int]] = {}
            for c in session.scalars(select(CountRow).where(CountRow.interval_id == r.id)):
                counts.setdefault(c.movement, {})[c.vehicle_class] = c.vehicles
            self.note_counts(r.intersection, r.camera, [(r.start_s, r.duration_s, r.health, counts,
                                                         json.loads(r.queues or "{}"))], wake=False)

    def _state_json(self, last_bucket: int, modes: Mapping[str, ControllerMode]) -> str:
        return json.dumps({"interval_s": self.interval_s, "last_bucket": last_bucket,
                           "modes": {iid: {"mode": m.mode, "reason": m.reason, "since_s": m.since_s}
                                     for iid, m in sorted(modes.items())}})

    def _save_state(self, session: Session, last_bucket: int, modes: Mapping[str, ControllerMode]) -> None:
        row = session.get(Meta, STATE_KEY)
        if row is None:
            session.add(Meta(key=STATE_KEY, value=self._state_json(last_bucket, modes)))
        else:
            row.value = self._state_json(last_bucket, modes)

    def _publish_modes(self) -> None:
        self.ctx.live.controller_modes = {iid: {"mode": m.mode, "reason": m.reason, "since_s": m.since_s}
                                          for iid, m in self.modes.items()}

    def controller_mode(self, iid: str) -> str:
        m = self.modes.get(iid)
        return m.mode if m is not None else "adaptive"

    # --- counts in --------------------------------------------------------------------------------
    def note_counts(self, iid: str, camera: str,
                    intervals: Sequence[tuple[float, float, str, Mapping[str, Mapping[str, int]],
                                              Mapping[str, float]]], wake: bool = True) -> None:
        """Stored intervals of one camera: ``(start_s, duration_s, health, counts, queues_veh)``."""
        if iid not in self.ctx.scenario.intersections:
            return
        with self._data_lock:
            for start_s, duration_s, health, counts, queues in intervals:
                if self.interval_s is None:
                    self.interval_s = float(duration_s)
                k = self._bucket(start_s, duration_s)
                if self.last_bucket is not None and k <= self.last_bucket:
                    continue  # that interval was decided already
                try:
                    health_value = Health(health)
                except ValueError:
                    health_value = Health.UNKNOWN
                ic = IntervalCounts(camera, start_s, duration_s, {key: dict(v) for key, v in counts.items()},
                                    iid, dict(queues), health_value, self.ctx.live.pcu)
                self._buckets.setdefault(k, {}).setdefault(iid, {})[camera] = ic
        if wake:
            self._wake.set()

    def _bucket(self, start_s: float, duration_s: float) -> int:
        assert self.interval_s is not None
        return math.floor((start_s + duration_s / 2.0) / self.interval_s)

    def _expected(self) -> set[str]:
        return {i for i in self.ctx.live.cameras.values() if i in self.ctx.scenario.intersections}

    def _next_ready(self, now_s: float) -> int | None:
        with self._data_lock:
            if self.interval_s is None:
                return None
            interval = self.interval_s
            if self.last_bucket is None:
                if not self._buckets:
                    return None
                k = min(self._buckets)
            else:
                k = self.last_bucket + 1
            # intervals long past (a camera sending its backlog, the server down for a while) are not decided:
            # the plans are made for now
            oldest = math.floor(now_s / interval) - CATCH_UP_INTERVALS
            if k < oldest:
                k = min([b for b in self._buckets if b >= oldest], default=oldest)
            got = set(self._buckets.get(k, {}))
            expected = self._expected()
            complete = bool(expected) and expected <= got
            over = now_s >= (k + 1) * interval + self.ctx.settings.loop_grace_s
            return k if complete or over else None

    # --- deciding ---------------------------------------------------------------------------------
    def controller(self) -> AdaptiveController:
        """The adaptive controller (built on first use: importing it loads the optimiser)."""
        if self._controller is None:
            from signal_control.adaptive import (
                AdaptiveController,
                AdaptiveParams,
                TimeOfDayPlan,
                scenario_design_veh_h,
            )

            sc = self.ctx.scenario
            tod = TimeOfDayPlan(0.0, "scenario", {iid: sc.plans[iid][sc.active_plans[iid]] for iid in sc.intersections},
                                scenario_design_veh_h(sc))
            ctl = AdaptiveController(sc, [tod], self.ctx.settings.adaptive or AdaptiveParams(),
                                     self.ctx.settings.rules)
            for iid, m in self.modes.items():  # restored after a restart
                ctl.modes[iid] = m.mode
            self._controller = ctl
        return self._controller

    def step(self) -> list[Decision]:
        """Decide every interval that is ready, in order; returns what each decision did."""
        out: list[Decision] = []
        with self._step_lock:
            while True:
                now = self.ctx.now()
                k = self._next_ready(now)
                if k is None:
                    return out
                out.append(self._decide(k, now))

    def _decide(self, k: int, now_s: float) -> Decision:
        ctx = self.ctx
        assert self.interval_s is not None
        with self._data_lock:
            by_iid = self._buckets.pop(k, {})
            for old in [b for b in self._buckets if b < k]:
                del self._buckets[old]
        counts = {iid: merged(list(cams.values())) for iid, cams in by_iid.items()}
        ctl = self.controller()
        signals = {iid: self._signal_state(iid, now_s) for iid in ctx.scenario.intersections}
        seen = len(ctl.events)
        try:
            wanted = ctl.decide((k + 1) * self.interval_s, counts, signals)
        except Exception:  # a controller failure must not stop the loop: plans in force stay, it is logged
            log.exception("the adaptive controller failed on interval %s", k)
            wanted = {}
        events = [e for e in ctl.events[seen:] if e.intersection in ctx.scenario.intersections
                  and e.event in ("adaptive", "failsafe")]
        applied: dict[str, list[str]] = {}
        held: dict[str, str] = {}
        changes: dict[str, str] = {}
        feed: list[dict[str, Any]] = []
        # the new modes are made visible (to the schedule ticker, the status) once the plans they need are in
        # force, so that nothing else puts a time-of-day plan in force for the same change
        modes = dict(self.modes)
        with ctx.write_lock, ctx.sessions() as session:
            now = ctx.now()
            for ev in events:
                before = modes[ev.intersection].mode if ev.intersection in modes else "adaptive"
                modes[ev.intersection] = ControllerMode(ev.event, ev.reason, now)
                changes[ev.intersection] = ev.event
                store.audit(session, now, ACTOR, "controller_mode", f"intersection/{ev.intersection}",
                            {"mode": before}, {"mode": ev.event, "reason": ev.reason})
                if ev.event == "failsafe":
                    self._failsafe_alarm(session, ev.intersection, ev.reason, now)
                else:
                    alarms.clear_alarm(session, now, ev.intersection, FAILSAFE_ALARM)
                feed.append({"type": "alarm", "action": "raised" if ev.event == "failsafe" else "cleared",
                             "intersection": ev.intersection, "kind": FAILSAFE_ALARM, "reason": ev.reason})
            for iid in ctx.scenario.intersections:
                mode = ctx.live.modes.get(iid, ("fixed", 0))[0]
                if iid in changes and changes[iid] == "failsafe":
                    if mode == "adaptive":
                        row = time_of_day_row(ctx, session, iid, now)
                        names = self._put_in_force(session, iid, [store.plan_of(row)], now, "failsafe", row)
                        if names:
                            applied[iid] = names
                    else:
                        held[iid] = f"mode {mode}"
                    continue
                if iid not in wanted:
                    continue
                if mode != "adaptive":
                    held[iid] = f"mode {mode}"
                    continue
                if iid in modes and modes[iid].mode == "failsafe":
                    continue  # its time-of-day plan was put in force when it entered failsafe
                names = self._put_in_force(session, iid, list(wanted[iid]), now, "controller", None,
                                           signals[iid].cycle_end_s)
                if names:
                    applied[iid] = names
            self._save_state(session, k, modes)
            session.commit()
            for iid in applied:
                ctx.live.reload_intersection(session, iid)
            self.last_bucket = k
            self.modes = modes
        self._publish_modes()
        for ev_json in feed:
            ctx.hub.publish(ev_json)
        for iid, mode in changes.items():
            ctx.hub.publish({"type": "controller_mode", "intersection": iid, "mode": mode})
        for iid, names in applied.items():
            ctx.hub.publish({"type": "plan", "action": "controller", "intersection": iid, "plan": names[-1],
                             "by": ACTOR})
        return Decision(k * self.interval_s, applied, held, changes)

    def _failsafe_alarm(self, session: Session, iid: str, reason: str, now_s: float) -> None:
        """An alarm where bad data matters: the intersection runs adaptive (and so falls back to failsafe) or
        has a camera (one that stopped or went bad); an intersection without cameras in another mode has
        none."""
        mode = self.ctx.live.modes.get(iid, ("fixed", 0))[0]
        if mode == "adaptive":
            alarms.raise_alarm(session, now_s, iid, FAILSAFE_ALARM,
                               f"camera data bad ({reason}): failsafe, running the time-of-day plan")
        elif iid in self._expected():
            alarms.raise_alarm(session, now_s, iid, FAILSAFE_ALARM,
                               f"camera data bad ({reason}); mode {mode}, so the plan in force stays")

    def resume(self, iid: str) -> list[str]:
        """An operator put ``iid`` (back) in adaptive mode: at the next boundary it runs the controller's plan
        for it (or its time-of-day plan while the controller holds it in failsafe); nothing changes before the
        controller has made a plan for it. Returns the names put in force."""
        ctx = self.ctx
        with ctx.write_lock, ctx.sessions() as session:
            now = ctx.now()
            if self.controller_mode(iid) == "failsafe":
                self._failsafe_alarm(session, iid, self.modes[iid].reason, now)
                row = time_of_day_row(ctx, session, iid, now)
                names = [] if row.name == target_plan_name(ctx, iid, now) else \
                    self._put_in_force(session, iid, [store.plan_of(row)], now, "failsafe", row)
            else:
                ctl = self._controller
                if ctl is None or not any(a[1] == iid for a in ctl.applied):
                    return []
                target = ctl.target_plans()[iid]
                if same_timing(target, self._signal_state(iid, now).plan):
                    return []
                names = self._put_in_force(session, iid, [target], now, "controller", None)
            session.commit()
            if names:
                ctx.live.reload_intersection(session, iid)
        if names:
            ctx.hub.publish({"type": "plan", "action": "controller", "intersection": iid, "plan": names[-1],
                             "by": ACTOR})
        return names

    def _signal_state(self, iid: str, now_s: float) -> SignalState:
        """The plan the signal runs or is moving to (the last one of a pending sequence) and the end of the
        cycle in progress."""
        live = self.ctx.live
        rec, pending = live.in_force(iid, now_s)
        plan = live.running[pending.id].plan if pending is not None else rec.plan
        return SignalState(iid, plan, next_boundary_s(self.ctx, iid, now_s), pending is not None)

    def _put_in_force(self, session: Session, iid: str, sequence: list[SignalPlan], now_s: float, kind: str,
                      final_row: Plan | None, planned_start_s: float | None = None) -> list[str]:
        """Validate the sequence and put it in force from the end of the cycle in progress (transition cycles
        one cycle each, then its last plan), one audited activation per plan; a sequence with an unsafe plan
        puts nothing in force and raises an alarm. The transitions are planned again here unless the sequence
        was made for this boundary (``planned_start_s``). Returns the names put in force."""
        from signal_control.transition import transition_plans

        ctx = self.ctx
        inter = ctx.scenario.intersections[iid]
        start = next_boundary_s(ctx, iid, now_s)
        target = sequence[-1]
        params = self.controller().params
        if planned_start_s is None or abs(start - planned_start_s) > 1e-6:
            # (re)plan the transitions from this boundary: the target's offset is where phase 0 must fall
            try:
                sequence = transition_plans(target, start, inter, params.max_step, ctx.settings.rules)
            except Exception as exc:  # an unsafe target: refused below with its issues
                log.warning("no transition to %s at %s: %s", target.name, iid, exc)
                sequence = [target]
        issues = [f"{p.name}: {i}" for p in sequence for i in validate_plan(p, inter, ctx.settings.rules)]
        if issues:
            alarms.raise_alarm(session, now_s, iid, REFUSED_ALARM, "controller plan refused: " + "; ".join(issues[:5]))
            store.audit(session, now_s, ACTOR, "plan_refused", f"intersection/{iid}", None,
                        {"plan": target.name, "issues": issues[:20]})
            return []
        before, _ = ctx.live.in_force(iid, now_s)
        base = final_row.name if final_row is not None else "adaptive"
        names = []
        t = start
        for j, plan in enumerate(sequence):
            last = j == len(sequence) - 1
            row = final_row if last and final_row is not None else \
                self._store_plan(session, iid, base if last else f"{base}.t{j + 1}", plan, now_s)
            session.add(Activation(intersection=iid, plan_id=row.id, kind=kind, requested_at=now_s, effective_at=t,
                                   actor=ACTOR))
            store.audit(session, now_s, ACTOR, "activate", f"intersection/{iid}",
                        {"plan": before.name, "version": before.version},
                        {"plan": row.name, "version": row.version, "plan_id": row.id, "effective_at_s": t,
                         "step": j + 1, "steps": len(sequence), "reason": kind})
            names.append(row.name)
            t += plan.cycle_s
        return names

    def _store_plan(self, session: Session, iid: str, name: str, plan: SignalPlan, now_s: float) -> Plan:
        version = (session.scalar(select(func.max(Plan.version)).where(Plan.intersection == iid, Plan.name == name))
                   or 0) + 1
        row = Plan(intersection=iid, name=name, version=version, body=store.plan_body(replace(plan, name=name)),
                   created_by=ACTOR, created_at=now_s)
        session.add(row)
        session.flush()
        return row

    # --- the thread -------------------------------------------------------------------------------
    def start(self) -> None:
        if self.ctx.settings.loop_poll_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="greenwave-live-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.ctx.settings.loop_poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.step()
            except Exception:  # logged; the next interval tries again
                log.exception("live loop step failed")


def merged(parts: list[IntervalCounts]) -> IntervalCounts:
    """One intersection's counts for an interval from its cameras: vehicles summed per key and class, the
    worst health (anything not ``ok`` makes the whole intersection's data suspect)."""
    if len(parts) == 1:
        return parts[0]
    counts: dict[str, dict[str, int]] = {}
    queues: dict[str, float] = {}
    for p in parts:
        for key, by_class in p.counts.items():
            into = counts.setdefault(key, {})
            for cls, n in by_class.items():
                into[cls] = into.get(cls, 0) + n
        queues.update(p.queues_veh)
    bad = [p.health for p in parts if p.health is not Health.OK]
    first = min(parts, key=lambda p: p.start_s)
    return IntervalCounts("+".join(sorted(p.source for p in parts)), first.start_s, max(p.duration_s for p in parts),
                          counts, first.intersection, queues, bad[0] if bad else Health.OK, first.pcu)


def same_timing(a: SignalPlan, b: SignalPlan) -> bool:
    """Same cycle, greens and offset (within half a second)."""
    if abs(a.cycle_s - b.cycle_s) >= 0.5 or len(a.phases) != len(b.phases):
        return False
    shift = (a.offset_s - b.offset_s + a.cycle_s / 2) % a.cycle_s - a.cycle_s / 2
    return abs(shift) < 0.5 and all(abs(p.green_s - q.green_s) < 0.5 for p, q in zip(a.phases, b.phases, strict=True))
