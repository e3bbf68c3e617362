"""Alarms: raised by the live loop (camera data bad and failsafe entered, a controller plan refused), cleared
when their cause is gone, acknowledged by an operator (audited). Stored, so they survive a restart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import store
from api.db import Alarm
from api.errors import ApiError


def raise_alarm(session: Session, now_s: float, iid: str, kind: str, message: str, source: str = "controller"
                ) -> Alarm:
    """A new active alarm (the caller commits); an active one of the same kind at the same intersection is
    kept instead (its message updated), so a cause raises one alarm until it clears."""
    current = active_alarm(session, iid, kind)
    if current is not None:
        current.message = message
        return current
    alarm = Alarm(raised_at=now_s, intersection=iid, kind=kind, message=message, source=source, active=True)
    session.add(alarm)
    return alarm


def active_alarm(session: Session, iid: str, kind: str) -> Alarm | None:
    return session.scalars(select(Alarm).where(Alarm.intersection == iid, Alarm.kind == kind,
                                               Alarm.active.is_(True)).order_by(Alarm.id.desc()).limit(1)).first()


def clear_alarm(session: Session, now_s: float, iid: str, kind: str) -> Alarm | None:
    """Mark the active alarm of this kind at ``iid`` cleared (its cause is gone); it stays listed until
    acknowledged. None when there is none."""
    alarm = active_alarm(session, iid, kind)
    if alarm is not None:
        alarm.active = False
        alarm.cleared_at = now_s
    return alarm


def acknowledge(session: Session, now_s: float, alarm_id: int, actor: str) -> Alarm:
    """An operator has seen the alarm (audited as ``alarm_ack``); 404 unknown, 409 acknowledged before."""
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise ApiError(404, f"no alarm {alarm_id}")
    if alarm.acknowledged_at is not None:
        raise ApiError(409, f"alarm {alarm_id} was acknowledged by {alarm.acknowledged_by!r} already")
    alarm.acknowledged_at = now_s
    alarm.acknowledged_by = actor
    store.audit(session, now_s, actor, "alarm_ack", f"alarm/{alarm_id}", {"acknowledged": False},
                {"acknowledged": True, "intersection": alarm.intersection, "kind": alarm.kind})
    session.commit()
    return alarm


def alarm_json(alarm: Alarm, now_s: float) -> dict[str, Any]:
    return {"id": alarm.id, "intersection": alarm.intersection, "kind": alarm.kind, "message": alarm.message,
            "source": alarm.source, "raised_at": alarm.raised_at, "age_s": round(max(0.0, now_s - alarm.raised_at), 1),
            "active": alarm.active, "cleared_at": alarm.cleared_at, "acknowledged_at": alarm.acknowledged_at,
            "acknowledged_by": alarm.acknowledged_by}
