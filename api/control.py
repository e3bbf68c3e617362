"""Plan changes that take effect on the street: activation at the next cycle boundary, rollback, mode.

Service functions used by the routes and by the schedule ticker; each writes its audit entry in the
same transaction as the change, then refreshes the live state and publishes a feed event.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from api import store
from api.context import AppContext
from api.db import Activation, Control, Plan, Schedule
from api.errors import ApiError
from traffic.plan_validation import validate_plan


def next_boundary_s(ctx: AppContext, iid: str, now_s: float) -> float:
    """End of the current cycle of the plan in force (now, if exactly on a boundary)."""
    rec, _ = ctx.live.in_force(iid, now_s)
    pos = rec.plan.position_s(now_s)
    return now_s if pos < 1e-9 else now_s + rec.plan.cycle_s - pos


def check_if_match(ctx: AppContext, iid: str, if_match: str | None) -> None:
    """Optional optimistic concurrency on the intersection: ETag = id of its latest activation."""
    if if_match is None:
        return
    current = intersection_etag(ctx, iid)
    if if_match.strip() not in (current, "*"):
        raise ApiError(412, f"intersection {iid!r} changed since you read it (now {current})")


def intersection_etag(ctx: AppContext, iid: str) -> str:
    acts = ctx.live.activations[iid]
    return f'"a{max(a.id for a in acts)}"' if acts else '"a0"'


def activate(ctx: AppContext, session: Session, iid: str, row: Plan, actor: str, kind: str = "activate"
             ) -> dict[str, Any]:
    """Put a stored plan version in force at the next cycle boundary (audited)."""
    now = ctx.now()
    plan = store.plan_of(row)
    issues = validate_plan(plan, ctx.scenario.intersections[iid], ctx.settings.rules)
    if issues:  # stored plans were validated on the way in; rules may have tightened since
        raise ApiError(422, "stored plan is no longer safe: " + "; ".join(issues))
    with ctx.write_lock:
        before, _ = ctx.live.in_force(iid, now)
        effective = next_boundary_s(ctx, iid, now)
        session.add(Activation(intersection=iid, plan_id=row.id, kind=kind, requested_at=now,
                               effective_at=effective, actor=actor))
        store.audit(session, now, actor, kind, f"intersection/{iid}",
                    {"plan": before.name, "version": before.version},
                    {"plan": row.name, "version": row.version, "effective_at_s": effective})
        session.commit()
        ctx.live.reload_intersection(session, iid)
    out = {"intersection": iid, "plan": row.name, "version": row.version, "plan_id": row.id,
           "effective_at_s": effective}
    ctx.hub.publish({"type": "plan", "action": kind, **out, "by": actor})
    ctx.hub.publish({"type": "audit", "action": kind, "target": f"intersection/{iid}", "actor": actor})
    return out


def rollback(ctx: AppContext, session: Session, iid: str, actor: str) -> dict[str, Any]:
    prev = ctx.live.previous_plan(iid, ctx.now())
    if prev is None:
        raise ApiError(409, f"intersection {iid!r} has no previous plan to roll back to")
    row = session.get(Plan, prev.id)
    assert row is not None
    return activate(ctx, session, iid, row, actor, kind="rollback")


def set_mode(ctx: AppContext, session: Session, iid: str, mode: str, actor: str, if_match: str | None
             ) -> dict[str, Any]:
    ctl = session.get(Control, iid)
    assert ctl is not None
    if if_match is not None and if_match.strip() not in (f'"m{ctl.version}"', "*"):  # ETag: mode_version
        raise ApiError(412, f"mode of {iid!r} changed since you read it (now \"m{ctl.version}\")")
    before, version = ctl.mode, ctl.version
    # typed as Result; an UPDATE's result is a CursorResult (rowcount)
    res = cast("CursorResult[Any]", session.execute(update(Control)
                                                    .where(Control.intersection == iid, Control.version == version)
                                                    .values(mode=mode, version=version + 1)))
    if res.rowcount != 1:
        session.rollback()
        raise ApiError(409, f"mode of {iid!r} was changed concurrently; read it again")
    store.audit(session, ctx.now(), actor, "mode", f"intersection/{iid}", {"mode": before}, {"mode": mode})
    session.commit()
    ctx.live.reload_intersection(session, iid)
    ctx.hub.publish({"type": "mode", "intersection": iid, "mode": mode, "by": actor})
    ctx.hub.publish({"type": "audit", "action": "mode", "target": f"intersection/{iid}", "actor": actor})
    enforce_mode(ctx, session, iid, mode, actor)
    return {"intersection": iid, "mode": mode, "version": version + 1}


def scheduled_plan(entries: list[dict[str, str]], now_s: float, time_zone: str = "UTC") -> str | None:
    """The plan a time-of-day schedule names at ``now_s`` in ``time_zone`` (the deployment's IANA zone, never
    the server's local zone); the last entry wraps midnight."""
    if not entries:
        return None
    local = datetime.fromtimestamp(now_s, ZoneInfo(time_zone))
    minute = local.hour * 60 + local.minute
    ordered = sorted(entries, key=lambda e: e["start"])
    chosen = ordered[-1]
    for e in ordered:
        h, m = e["start"].split(":")
        if int(h) * 60 + int(m) <= minute:
            chosen = e
    return chosen["plan"]


def time_of_day_row(ctx: AppContext, session: Session, iid: str, now_s: float) -> Plan:
    """The intersection's time-of-day plan at ``now_s``: the one its schedule names, else the scenario's active
    plan (latest stored versions). What ``failsafe`` runs."""
    sched = session.get(Schedule, iid)
    name = scheduled_plan(json.loads(sched.body), now_s, ctx.time_zone) if sched is not None else None
    row = store.latest_plan(session, iid, name) if name is not None else None
    if row is None:
        row = store.latest_plan(session, iid, ctx.scenario.active_plans[iid])
    assert row is not None, f"the scenario's plans of {iid} are seeded at start-up"
    return row


def target_plan_name(ctx: AppContext, iid: str, now_s: float) -> str:
    """The plan the intersection runs, or the last one it is moving to."""
    current, pending = ctx.live.in_force(iid, now_s)
    return ctx.live.plans[pending.plan_id].name if pending else current.name


def apply_schedules(ctx: AppContext) -> None:
    """Intersections in ``fixed`` mode follow their time-of-day schedule (activations by 'schedule'); those in
    ``failsafe`` (set by an operator, or by the live loop's health checks in ``adaptive`` mode) run their
    time-of-day plan."""
    now = ctx.now()
    loop = ctx.loop
    with ctx.sessions() as session:
        for iid in ctx.scenario.intersections:
            mode = ctx.live.modes.get(iid, ("",))[0]
            auto_failsafe = mode == "adaptive" and loop is not None and loop.controller_mode(iid) == "failsafe"
            if mode == "fixed":
                sched = session.get(Schedule, iid)
                name = scheduled_plan(json.loads(sched.body), now, ctx.time_zone) if sched is not None else None
                row = store.latest_plan(session, iid, name) if name is not None else None
                actor, kind = "schedule", "schedule"
            elif mode == "failsafe" or auto_failsafe:
                row = time_of_day_row(ctx, session, iid, now)
                actor, kind = ("failsafe", "failsafe") if mode == "failsafe" else ("controller", "failsafe")
            else:
                continue
            if row is not None and row.name != target_plan_name(ctx, iid, now):
                activate(ctx, session, iid, row, actor, kind=kind)


def enforce_mode(ctx: AppContext, session: Session, iid: str, mode: str, actor: str) -> None:
    """Make a new mode take effect at the next cycle boundary: ``failsafe`` puts the time-of-day plan in force,
    ``fixed`` the schedule's plan (where there is a schedule; else the plan in force stays), ``adaptive`` the
    controller's plan (or its time-of-day plan while its data is bad), ``manual`` keeps the plan in force."""
    now = ctx.now()
    if mode == "adaptive":
        if ctx.loop is not None:
            ctx.loop.resume(iid)
        return
    if mode == "failsafe":
        row: Plan | None = time_of_day_row(ctx, session, iid, now)
    elif mode == "fixed":
        sched = session.get(Schedule, iid)
        name = scheduled_plan(json.loads(sched.body), now, ctx.time_zone) if sched is not None else None
        row = store.latest_plan(session, iid, name) if name is not None else None
    else:
        return
    if row is not None and row.name != target_plan_name(ctx, iid, now):
        activate(ctx, session, iid, row, actor, kind="failsafe" if mode == "failsafe" else "schedule")
