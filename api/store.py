"""Database operations shared by routes, the live state and the job worker."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db import Activation, AuditEntry, Control, Meta, Plan
from traffic import schema as S
from traffic.scenario import Scenario
from traffic.scenario_io import plan_from_model, plan_to_model
from traffic.signal_plan import SignalPlan

MODES = ("adaptive", "fixed", "failsafe", "manual")


def plan_body(plan: SignalPlan) -> str:
    return plan_to_model(plan, with_intersection=False).model_dump_json()


def plan_of(row: Plan) -> SignalPlan:
    return plan_from_model(S.PlanModel.model_validate_json(row.body), row.intersection)


def plan_json(row: Plan) -> dict[str, Any]:
    """The public JSON of a stored plan version."""
    body = json.loads(row.body)
    body.pop("intersection", None)
    return {"id": row.id, "intersection": row.intersection, "version": row.version, "created_by": row.created_by,
            "created_at": row.created_at, **body}


def latest_plan(session: Session, iid: str, name: str) -> Plan | None:
    return session.scalars(select(Plan).where(Plan.intersection == iid, Plan.name == name)
                           .order_by(Plan.version.desc()).limit(1)).first()


def plan_version(session: Session, iid: str, name: str, version: int | None) -> Plan | None:
    """One stored version of a plan; the latest when ``version`` is None."""
    if version is None:
        return latest_plan(session, iid, name)
    return session.scalars(select(Plan).where(Plan.intersection == iid, Plan.name == name,
                                              Plan.version == version)).first()


def audit(session: Session, at: float, actor: str, action: str, target: str, before: Any = None,
          after: Any = None) -> AuditEntry:
    entry = AuditEntry(at=at, actor=actor, action=action, target=target, before=json.dumps(before),
                       after=json.dumps(after))
    session.add(entry)
    return entry


def audit_json(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
            "before": json.loads(e.before), "after": json.loads(e.after)}


def seed_scenario(session: Session, scenario: Scenario, now_s: float) -> None:
    """Store the scenario's plans and put its active plans in force, for intersections not seen before."""
    for iid in scenario.intersections:
        known = session.scalar(select(func.count()).select_from(Plan).where(Plan.intersection == iid))
        if known:
            continue
        ids = {}
        for name, plan in scenario.plans[iid].items():
            row = Plan(intersection=iid, name=name, version=1, body=plan_body(plan), created_by="scenario",
                       created_at=now_s)
            session.add(row)
            session.flush()
            ids[name] = row.id
        session.add(Activation(intersection=iid, plan_id=ids[scenario.active_plans[iid]], kind="initial",
                               requested_at=now_s, effective_at=0.0, actor="scenario"))
        if session.get(Control, iid) is None:
            session.add(Control(intersection=iid, mode="fixed", version=1))
    session.commit()


TIME_ZONE_KEY = "time_zone"
DEFAULT_TIME_ZONE = "UTC"


def check_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (``Asia/Ho_Chi_Minh``), else ValueError naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"time zone {name!r} is not an IANA zone name such as 'Asia/Ho_Chi_Minh' or 'UTC'") from None
    return name


def deployment_time_zone(session: Session, configured: str | None, now_s: float) -> str:
    """The deployment's time zone: ``configured`` (stored, and audited when it changes), else the stored one,
    else UTC (stored, so that it is explicit)."""
    row = session.get(Meta, TIME_ZONE_KEY)
    if configured is None and row is not None:
        return row.value
    zone = check_time_zone(configured or DEFAULT_TIME_ZONE)
    if row is None or row.value != zone:
        audit(session, now_s, "config", "time_zone", "deployment", None if row is None else row.value, zone)
        if row is None:
            session.add(Meta(key=TIME_ZONE_KEY, value=zone))
        else:
            row.value = zone
        session.commit()
    return zone
