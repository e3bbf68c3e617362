"""Simulation and optimisation jobs: submit, list, poll, result, re-run (progress also on the feed)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from api import store
from api.db import CountInterval, CountRow, Job
from api.deps import DB, Ctx, Engineer, Viewer
from api.errors import ApiError
from api.schemas import INT32_MAX, JobOut, OptimizationJobIn, SimulationJobIn
from signal_control.movement_demand import MovementFlow, demand_with_fallback
from traffic.pcu import pcu_of

router = APIRouter(tags=["jobs"])


def _out(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "progress": job.progress,
            "request": {k: v for k, v in json.loads(job.request).items() if k != "plans"},
            "error": job.error, "created_by": job.created_by, "created_at": job.created_at,
            "updated_at": job.updated_at}


def _plans_in_force(ctx: Ctx, db: DB, names: dict[str, str]) -> dict[str, Any]:
    """Plan bodies frozen at submission: the named stored plans, else the plan in force now."""
    unknown = sorted(set(names) - set(ctx.scenario.intersections))
    if unknown:
        raise ApiError(422, f"unknown intersections {unknown[:5]}")
    now = ctx.now()
    plans = {}
    for iid in ctx.scenario.intersections:
        if iid in names:
            row = store.latest_plan(db, iid, names[iid])
            if row is None:
                raise ApiError(422, f"no plan {names[iid]!r} at {iid!r}")
            plans[iid] = json.loads(row.body)
        else:
            rec, _ = ctx.live.in_force(iid, now)
            plans[iid] = json.loads(store.plan_body(rec.plan))
    return plans


def _submit(ctx: Ctx, db: DB, kind: str, request: dict[str, Any], actor: str) -> Job:
    now = ctx.now()
    job = Job(kind=kind, status="queued", progress=0.0, request=json.dumps(request), created_by=actor,
              created_at=now, updated_at=now)
    db.add(job)
    db.commit()
    return job


@router.post("/jobs/simulation", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED)
def submit_simulation(body: SimulationJobIn, ctx: Ctx, db: DB, who: Engineer) -> dict[str, Any]:
    """Simulate the managed scenario with the plans in force (or the named ones) over ``seeds`` seeds."""
    if body.seeds > ctx.settings.max_job_seeds:
        raise ApiError(422, f"seeds (={body.seeds}) must be <= {ctx.settings.max_job_seeds}")
    if body.duration_s is not None and body.duration_s > ctx.settings.max_job_duration_s:
        raise ApiError(422, f"duration_s (={body.duration_s}) must be <= {ctx.settings.max_job_duration_s}")
    request = {"seeds": body.seeds, "duration_s": body.duration_s, "plan_names": body.plans,
               "plans": _plans_in_force(ctx, db, body.plans)}
    return _out(_submit(ctx, db, "simulation", request, who.name))


@router.post("/jobs/optimization", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED)
def submit_optimization(body: OptimizationJobIn, ctx: Ctx, db: DB, who: Engineer) -> dict[str, Any]:
    """Optimise every signal (``greenwave optimize``'s methods); the resulting plans are not activated.

    With ``use_counts``, demand is the latest good camera counts (PCU from each vehicle class); a movement no
    camera counted recently is missing, not zero: it takes its last good stored counts, else the scenario's
    flow. ``missing_movements`` in the request and ``demand`` in the result say which source each used.
    """
    request: dict[str, Any] = {"method": body.method, "cycle_s": body.cycle_s, "counts_veh_h": {}}
    if body.use_counts:
        measured = _recent_counts(ctx)
        if not measured:
            raise ApiError(422, "use_counts: no recent counts with health 'ok' stored")
        missing = sorted({m for i in ctx.scenario.intersections.values() for m in i.movements} - set(measured))
        flows, sources = demand_with_fallback(ctx.scenario, measured, _last_good(ctx, db, missing))
        request.update(counts_veh_h={m: f.veh_h for m, f in flows.items()},
                       counts_pcu_h={m: f.pcu_h for m, f in flows.items()}, demand_sources=sources,
                       missing_movements={m: src for m, src in sources.items() if src != "camera"})
    request["plans"] = _plans_in_force(ctx, db, {})
    return _out(_submit(ctx, db, "optimization", request, who.name))


def _recent_counts(ctx: Ctx) -> dict[str, MovementFlow]:
    """Movement -> flow from every camera's latest interval if it is recent and healthy (cameras summed)."""
    now, skew = ctx.now(), ctx.settings.max_clock_skew_s
    veh: dict[str, float] = {}
    pcu: dict[str, float] = {}
    for iid, inter in ctx.scenario.intersections.items():
        for li in ctx.live.latest.get(iid, {}).values():
            if li.health != "ok" or not -skew <= now - li.end_s <= 3 * li.duration_s:
                continue
            for k, v in li.flows_veh_h.items():
                if k in inter.movements:
                    veh[k] = veh.get(k, 0.0) + v
                    pcu[k] = pcu.get(k, 0.0) + li.flows_pcu_h.get(k, v)
    return {m: MovementFlow(veh[m], pcu[m]) for m in veh}


def _last_good(ctx: Ctx, db: DB, movements: list[str]) -> dict[str, MovementFlow]:
    """Movement -> flow of the newest stored healthy interval that counted it (none in the future, none
    older than ``max_interval_age_s``)."""
    if not movements:
        return {}
    now = ctx.now()
    rows = db.execute(select(CountInterval.id, CountInterval.duration_s, CountRow.movement, CountRow.vehicle_class,
                             CountRow.vehicles)
                      .join(CountRow, CountRow.interval_id == CountInterval.id)
                      .where(CountInterval.health == "ok", CountRow.movement.in_(movements),
                             CountInterval.start_s + CountInterval.duration_s <= now + ctx.settings.max_clock_skew_s,
                             CountInterval.start_s >= now - ctx.settings.max_interval_age_s)
                      .order_by(CountInterval.start_s.desc(), CountInterval.id.desc()))
    chosen: dict[str, tuple[int, float, dict[str, float]]] = {}
    for interval_id, duration_s, movement, cls, n in rows:
        hit = chosen.setdefault(movement, (interval_id, duration_s, {}))
        if hit[0] == interval_id:
            hit[2][cls] = hit[2].get(cls, 0.0) + n
    return {m: MovementFlow(sum(by_class.values()) * 3600.0 / dur, pcu_of(by_class, ctx.live.pcu) * 3600.0 / dur)
            for m, (_, dur, by_class) in chosen.items()}


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(db: DB, _: Viewer, limit: int = Query(default=50, ge=1, le=500)) -> list[dict[str, Any]]:
    return [_out(j) for j in db.scalars(select(Job).order_by(Job.id.desc()).limit(limit))]


JobId = Path(ge=1, le=INT32_MAX, description="job id")


def _job(db: DB, job_id: int) -> Job:
    job = db.get(Job, job_id) if 0 < job_id <= INT32_MAX else None
    if job is None:
        raise ApiError(404, f"no job {job_id}")
    return job


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: Annotated[int, JobId], db: DB, _: Viewer) -> dict[str, Any]:
    """Status and progress (0..1); poll this or watch ``job`` events on the feed."""
    return _out(_job(db, job_id))


@router.get("/jobs/{job_id}/result", responses={409: {"description": "not finished"}})
def job_result(job_id: Annotated[int, JobId], db: DB, _: Viewer) -> dict[str, Any]:
    job = _job(db, job_id)
    if job.status != "succeeded":
        raise ApiError(409, f"job {job_id} is {job.status}" + (f": {job.error}" if job.error else ""))
    return json.loads(job.result or "null")


@router.post("/jobs/{job_id}/rerun", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED,
             responses={409: {"description": "only failed jobs are re-run"}})
def rerun_job(job_id: Annotated[int, JobId], ctx: Ctx, db: DB, who: Engineer) -> dict[str, Any]:
    """Queue a copy of a failed job (same request, same frozen plans)."""
    job = _job(db, job_id)
    if job.status != "failed":
        raise ApiError(409, f"job {job_id} is {job.status}; only failed jobs are re-run")
    return _out(_submit(ctx, db, job.kind, json.loads(job.request), who.name))
