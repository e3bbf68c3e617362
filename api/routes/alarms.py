"""Alarms of the live loop: list (newest first) and acknowledge (audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from api import alarms
from api.db import Alarm
from api.deps import DB, Ctx, Operator, Viewer
from api.errors import ApiError
from api.schemas import INT32_MAX

router = APIRouter(tags=["alarms"])


@router.get("/alarms")
def list_alarms(ctx: Ctx, db: DB, _: Viewer, intersection: str | None = Query(default=None, max_length=128),
                open_only: bool = Query(default=False, description="only alarms active or not yet acknowledged"),
                limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Alarms, newest first, each with its age (``age_s``), whether its cause is still there (``active``) and
    who acknowledged it."""
    if intersection is not None and intersection not in ctx.scenario.intersections:
        raise ApiError(404, f"no intersection {intersection!r}")
    query = select(Alarm)
    if intersection is not None:
        query = query.where(Alarm.intersection == intersection)
    if open_only:
        query = query.where((Alarm.active.is_(True)) | (Alarm.acknowledged_at.is_(None)))
    now = ctx.now()
    return [alarms.alarm_json(a, now) for a in db.scalars(query.order_by(Alarm.id.desc()).limit(limit))]


@router.post("/alarms/{alarm_id}/acknowledge", responses={404: {"description": "no such alarm"},
                                                          409: {"description": "acknowledged before"}})
def acknowledge_alarm(ctx: Ctx, db: DB, who: Operator,
                      alarm_id: int = Path(ge=1, le=INT32_MAX)) -> dict[str, Any]:
    """Acknowledge an alarm (operator or above; audited as ``alarm_ack``)."""
    alarm = alarms.acknowledge(db, ctx.now(), alarm_id, who.name)
    ctx.hub.publish({"type": "alarm", "action": "acknowledged", "id": alarm.id, "intersection": alarm.intersection,
                     "by": who.name})
    ctx.hub.publish({"type": "audit", "action": "alarm_ack", "target": f"alarm/{alarm.id}", "actor": who.name})
    return alarms.alarm_json(alarm, ctx.now())
