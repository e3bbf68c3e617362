"""Liveness and readiness (no authentication) and Prometheus-style metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from api.db import Job
from api.deps import Ctx, Viewer

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "database or job worker unavailable"}})
def ready(ctx: Ctx) -> JSONResponse:
    checks = {"database": "ok", "jobs": "ok" if ctx.jobs is None or ctx.jobs.alive else "down"}
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any driver error means not ready; details stay in the server log
        checks["database"] = "down"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks,
                         "scenario": ctx.scenario.name, "intersections": len(ctx.scenario.intersections),
                          "time_zone": ctx.time_zone},
                        status_code=200 if ok else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(ctx: Ctx, _: Viewer) -> PlainTextResponse:
    with ctx.sessions() as db:
        jobs = dict(db.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    gauges = {"feed_clients": float(ctx.hub.clients), "intersections": float(len(ctx.scenario.intersections))}
    gauges.update({f'jobs{{status="{k}"}}': float(v) for k, v in jobs.items()})
    return PlainTextResponse(ctx.metrics.render(gauges), media_type="text/plain; version=0.0.4")
