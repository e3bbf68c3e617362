"""Plan changes that take effect on the street: activation at the next cycle boundary, rollback, mode.

Service functions used by the routes and by the schedule ticker; each writes its audit entry in the
same transaction as the change, then refreshes the live state and publishes a feed event.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update
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


def apply_schedules(ctx: AppContext) -> None:
    """Intersections in ``fixed`` mode follow their time-of-day schedule (activations by 'schedule')."""
    now = ctx.now()
    with ctx.sessions() as session:
        for sched in session.scalars(select(Schedule)):
            iid = sched.intersection
            if iid not in ctx.scenario.intersections or ctx.live.modes.get(iid, ("",))[0] != "fixed":
                continue
            name = scheduled_plan(json.loads(sched.body), now, ctx.time_zone)
            current, pending = ctx.live.in_force(iid, now)
            target = ctx.live.plans[pending.plan_id].name if pending else current.name
            if name is None or name == target:
                continue
            row = store.latest_plan(session, iid, name)
            if row is not None:
                activate(ctx, session, iid, row, "schedule", kind="schedule")
