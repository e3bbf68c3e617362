"""Simulation and optimisation jobs: submit, list, poll, result, re-run (progress also on the feed)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api import store
from api.db import Job
from api.deps import DB, Ctx, Engineer, Viewer
from api.errors import ApiError
from api.schemas import JobOut, OptimizationJobIn, SimulationJobIn

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
    """Optimise every signal (``greenwave optimize``'s methods); the resulting plans are not activated."""
    counts: dict[str, float] = {}
    if body.use_counts:
        now = ctx.now()
        for iid in ctx.scenario.intersections:
            for li in ctx.live.latest.get(iid, {}).values():
                if now - (li.start_s + li.duration_s) <= 3 * li.duration_s:
                    for k, v in li.flows_veh_h.items():
                        counts[k] = counts.get(k, 0.0) + v
        if not counts:
            raise ApiError(422, "use_counts: no recent counts stored")
    request = {"method": body.method, "cycle_s": body.cycle_s, "counts_veh_h": counts,
               "plans": _plans_in_force(ctx, db, {})}
    return _out(_submit(ctx, db, "optimization", request, who.name))


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(db: DB, _: Viewer, limit: int = Query(default=50, ge=1, le=500)) -> list[dict[str, Any]]:
    return [_out(j) for j in db.scalars(select(Job).order_by(Job.id.desc()).limit(limit))]


def _job(db: DB, job_id: int) -> Job:
    job = db.get(Job, job_id) if 0 < job_id < 2**62 else None
    if job is None:
        raise ApiError(404, f"no job {job_id}")
    return job


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: int, db: DB, _: Viewer) -> dict[str, Any]:
    """Status and progress (0..1); poll this or watch ``job`` events on the feed."""
    return _out(_job(db, job_id))


@router.get("/jobs/{job_id}/result", responses={409: {"description": "not finished"}})
def job_result(job_id: int, db: DB, _: Viewer) -> dict[str, Any]:
    job = _job(db, job_id)
    if job.status != "succeeded":
        raise ApiError(409, f"job {job_id} is {job.status}" + (f": {job.error}" if job.error else ""))
    return json.loads(job.result or "null")


@router.post("/jobs/{job_id}/rerun", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED,
             responses={409: {"description": "only failed jobs are re-run"}})
def rerun_job(job_id: int, ctx: Ctx, db: DB, who: Engineer) -> dict[str, Any]:
    """Queue a copy of a failed job (same request, same frozen plans)."""
    job = _job(db, job_id)
    if job.status != "failed":
        raise ApiError(409, f"job {job_id} is {job.status}; only failed jobs are re-run")
    return _out(_submit(ctx, db, job.kind, json.loads(job.request), who.name))
