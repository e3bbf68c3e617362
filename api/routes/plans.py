"""Signal plans: list, get, propose, edit (If-Match), activate, roll back, time-of-day schedule."""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query, Response, status
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError

from api import control, store
from api.db import Plan, Schedule
from api.deps import DB, Ctx, Engineer, Operator, Viewer
from api.errors import ApiError
from api.schemas import (
    INT32_MAX,
    ActivateIn,
    ActivationOut,
    PlanIn,
    PlanPublic,
    PlanRejected,
    ScheduleIn,
    ScheduleOut,
)
from traffic import schema as S
from traffic.errors import ModelError, PlanValidationError
from traffic.plan_validation import validate_plan
from traffic.scenario_io import plan_from_model
from traffic.signal_plan import SignalPlan

router = APIRouter(tags=["plans"])
REJECTED: dict[int | str, dict[str, Any]] = {
    422: {"model": PlanRejected, "description": "unsafe plan: every issue names the phase and movement"}}
IfMatch = Annotated[str | None, Header(description="ETag from a previous read")]


def intersection_or_404(ctx: Ctx, iid: str) -> None:
    if iid not in ctx.scenario.intersections:
        raise ApiError(404, f"no intersection {iid!r}")


def safe_plan(ctx: Ctx, iid: str, body: PlanIn) -> SignalPlan:
    """The domain plan, or 422 with every safety issue (nothing is stored)."""
    try:
        plan = plan_from_model(S.PlanModel(intersection=iid, **body.model_dump()), iid)
    except ModelError as exc:
        raise PlanValidationError([f"plan {body.name!r} of {iid!r}: {exc}"]) from None
    issues = validate_plan(plan, ctx.scenario.intersections[iid], ctx.settings.rules)
    if issues:
        raise PlanValidationError(issues)
    return plan


def _public(ctx: Ctx, row: Plan) -> dict[str, Any]:
    current, _ = ctx.live.in_force(row.intersection, ctx.now())
    return {**store.plan_json(row), "active": current.id == row.id}


@router.get("/intersections/{iid}/plans", response_model=list[PlanPublic])
def list_plans(iid: str, ctx: Ctx, db: DB, _: Viewer) -> list[dict[str, Any]]:
    """The latest version of every plan of the intersection."""
    intersection_or_404(ctx, iid)
    latest = (select(Plan.name, func.max(Plan.version).label("v")).where(Plan.intersection == iid)
              .group_by(Plan.name).subquery())
    rows = db.scalars(select(Plan).join(latest, (Plan.name == latest.c.name) & (Plan.version == latest.c.v))
                      .where(Plan.intersection == iid).order_by(Plan.name)).all()
    return [_public(ctx, r) for r in rows]


@router.get("/intersections/{iid}/plans/{name}", response_model=PlanPublic)
def get_plan(iid: str, name: str, ctx: Ctx, db: DB, response: Response, _: Viewer,
             version: int | None = Query(default=None, ge=1, le=INT32_MAX)) -> dict[str, Any]:
    """A plan (latest version unless ``version``); the ETag is its version, for If-Match on edits."""
    intersection_or_404(ctx, iid)
    row = store.plan_version(db, iid, name, version)
    if row is None:
        raise ApiError(404, f"no plan {name!r} at {iid!r}" + (f" version {version}" if version else ""))
    response.headers["ETag"] = f'"{row.version}"'
    return _public(ctx, row)


@router.post("/intersections/{iid}/plans", response_model=PlanPublic, status_code=status.HTTP_201_CREATED,
             responses={**REJECTED, 409: {"description": "a plan of that name exists"}})
def propose_plan(iid: str, body: PlanIn, ctx: Ctx, db: DB, response: Response, who: Engineer) -> dict[str, Any]:
    """Propose a new plan; it is safety-validated and stored as version 1 (not activated)."""
    intersection_or_404(ctx, iid)
    plan = safe_plan(ctx, iid, body)
    if store.latest_plan(db, iid, body.name) is not None:
        raise ApiError(409, f"plan {body.name!r} exists at {iid!r}: edit it with PUT and If-Match")
    row = _store_version(ctx, db, iid, plan, 1, who.name, None)
    response.headers["ETag"] = '"1"'
    return _public(ctx, row)


@router.put("/intersections/{iid}/plans/{name}", response_model=PlanPublic,
            responses={**REJECTED, 409: {"description": "concurrent edit"}, 412: {"description": "stale If-Match"},
                       428: {"description": "If-Match missing"}})
def edit_plan(iid: str, name: str, body: PlanIn, ctx: Ctx, db: DB, response: Response, who: Engineer,
              if_match: IfMatch = None) -> dict[str, Any]:
    """Store a new version of a plan; ``If-Match`` must carry the version you edited."""
    intersection_or_404(ctx, iid)
    if body.name != name:
        raise ApiError(422, f"body name {body.name!r} differs from the path's {name!r}")
    current = store.latest_plan(db, iid, name)
    if current is None:
        raise ApiError(404, f"no plan {name!r} at {iid!r}")
    if if_match is None:
        raise ApiError(428, "If-Match with the plan's ETag is required to edit it")
    if if_match.strip() != f'"{current.version}"':
        raise ApiError(412, f"plan {name!r} is now at version {current.version}; reload it and reapply your edit")
    plan = safe_plan(ctx, iid, body)
    row = _store_version(ctx, db, iid, plan, current.version + 1, who.name, current)
    response.headers["ETag"] = f'"{row.version}"'
    return _public(ctx, row)


def _store_version(ctx: Ctx, db: DB, iid: str, plan: SignalPlan, version: int, actor: str,
                   before: Plan | None) -> Plan:
    row = Plan(intersection=iid, name=plan.name, version=version, body=store.plan_body(plan), created_by=actor,
               created_at=ctx.now())
    db.add(row)
    store.audit(db, ctx.now(), actor, "plan_propose" if before is None else "plan_edit",
                f"intersection/{iid}/plan/{plan.name}",
                None if before is None else {"version": before.version, **json.loads(before.body)},
                {"version": version, **json.loads(row.body)})
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, f"plan {plan.name!r} at {iid!r} was changed concurrently; reload it") from None
    ctx.hub.publish({"type": "audit", "action": "plan", "target": f"intersection/{iid}/plan/{plan.name}",
                     "actor": actor})
    return row


@router.post("/intersections/{iid}/plans/{name}/activate", response_model=ActivationOut,
             status_code=status.HTTP_202_ACCEPTED, responses={412: {"description": "stale If-Match"}})
def activate_plan(iid: str, name: str, ctx: Ctx, db: DB, who: Operator, body: ActivateIn | None = None,
                  if_match: IfMatch = None) -> dict[str, Any]:
    """Put a plan in force at the end of the current cycle (If-Match: the intersection's status ETag)."""
    intersection_or_404(ctx, iid)
    control.check_if_match(ctx, iid, if_match)
    row = store.plan_version(db, iid, name, body.version if body else None)
    if row is None:
        raise ApiError(404, f"no plan {name!r} at {iid!r}")
    return control.activate(ctx, db, iid, row, who.name)


@router.post("/intersections/{iid}/rollback", response_model=ActivationOut, status_code=status.HTTP_202_ACCEPTED,
             responses={409: {"description": "no previous plan"}, 412: {"description": "stale If-Match"}})
def rollback_plan(iid: str, ctx: Ctx, db: DB, who: Operator, if_match: IfMatch = None) -> dict[str, Any]:
    """Go back to the plan in force before the current one, at the end of the current cycle."""
    intersection_or_404(ctx, iid)
    control.check_if_match(ctx, iid, if_match)
    return control.rollback(ctx, db, iid, who.name)


@router.get("/intersections/{iid}/schedule", response_model=ScheduleOut)
def get_schedule(iid: str, ctx: Ctx, db: DB, response: Response, _: Viewer) -> dict[str, Any]:
    """Time-of-day schedule (start times in the deployment's ``time_zone``); followed in ``fixed`` mode."""
    intersection_or_404(ctx, iid)
    row = db.get(Schedule, iid)
    version = row.version if row else 0
    response.headers["ETag"] = f'"s{version}"'
    return {"intersection": iid, "version": version, "time_zone": ctx.time_zone,
            "entries": json.loads(row.body) if row else []}


@router.put("/intersections/{iid}/schedule", response_model=ScheduleOut,
            responses={412: {"description": "stale If-Match"}, 428: {"description": "If-Match missing"}})
def put_schedule(iid: str, body: ScheduleIn, ctx: Ctx, db: DB, response: Response, who: Engineer,
                 if_match: IfMatch = None) -> dict[str, Any]:
    """Replace the schedule (If-Match: its ETag); start times are in the deployment's ``time_zone``, each once."""
    intersection_or_404(ctx, iid)
    row = db.get(Schedule, iid)
    version = row.version if row else 0
    if if_match is None:
        raise ApiError(428, "If-Match with the schedule's ETag is required")
    if if_match.strip() != f'"s{version}"':
        raise ApiError(412, f"schedule of {iid!r} is now at version {version}")
    starts = [e.start for e in body.entries]
    twice = sorted({t for t in starts if starts.count(t) > 1})
    if twice:
        raise ApiError(422, f"entries: more than one entry starts at {', '.join(twice)}; give each time once")
    missing = sorted({e.plan for e in body.entries if store.latest_plan(db, iid, e.plan) is None})
    if missing:
        raise ApiError(422, f"schedule names plans that {iid!r} does not have: {missing}")
    entries = [e.model_dump() for e in body.entries]
    before = json.loads(row.body) if row else []
    if row is None:
        db.add(Schedule(intersection=iid, body=json.dumps(entries), version=1))
    elif cast("CursorResult[Any]",  # typed as Result; an UPDATE's result is a CursorResult (rowcount)
              db.execute(update(Schedule).where(Schedule.intersection == iid, Schedule.version == version)
                         .values(body=json.dumps(entries), version=version + 1))).rowcount != 1:
        db.rollback()
        raise ApiError(409, f"schedule of {iid!r} was changed concurrently")
    store.audit(db, ctx.now(), who.name, "schedule", f"intersection/{iid}", before, entries)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, f"schedule of {iid!r} was changed concurrently") from None
    response.headers["ETag"] = f'"s{version + 1}"'
    return {"intersection": iid, "version": version + 1, "time_zone": ctx.time_zone, "entries": entries}
