"""The application factory: ``create_app(Settings(...))`` builds storage, live state, workers and routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api import store
from api.context import AppContext
from api.db import make_engine, make_sessionmaker, migrate
from api.errors import install_handlers
from api.feed import Hub
from api.jobs import JobRunner, fail_interrupted
from api.limits import BodyLimitMiddleware, LoginGuard, RateLimiter
from api.live import LiveState
from api.live_loop import ControlLoop
from api.metrics import Metrics, MetricsMiddleware
from api.routes import admin, alarms, audit, auth, counts, feed, health, intersections, jobs, plans
from api.settings import Settings
from api.signing_key import load_signing_key
from traffic.scenario_io import load_scenario

API_PREFIX = "/api/v1"
STATIC = Path(__file__).resolve().parent / "static"


def build_context(settings: Settings) -> AppContext:
    """Open (and migrate) the database, load the scenario, seed its plans, fill the live state."""
    scenario = load_scenario(settings.scenario)
    engine = make_engine(settings.db_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    live = LiveState(scenario)
    secret = load_signing_key(settings)
    with sessions() as db:
        store.seed_scenario(db, scenario, settings.clock())
        time_zone = store.deployment_time_zone(db, settings.time_zone, settings.clock())
        live.load(db, settings.clock(), settings.max_clock_skew_s)
    fail_interrupted(sessions, settings.clock())
    guard = LoginGuard(settings.login_free_failures, settings.login_backoff_base_s, settings.login_backoff_max_s,
                       settings.login_failure_reset_s, settings.login_rate_per_s, settings.login_burst,
                       settings.login_audit_window_s)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions, scenario=scenario,
                     scenario_ref=settings.scenario, live=live, hub=Hub(),
                     limiter=RateLimiter(settings.rate_per_s, settings.rate_burst), metrics=Metrics(),
                     secret=secret, login_guard=guard, time_zone=time_zone)
    ctx.loop = ControlLoop(ctx)
    with sessions() as db:
        ctx.loop.load(db)
    return ctx


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.hub.bind(asyncio.get_running_loop())
        if settings.job_workers > 0:
            ctx.jobs = JobRunner(ctx, settings.job_workers)
            ctx.jobs.start()
        if ctx.loop is not None:
            ctx.loop.start()
        tick = asyncio.create_task(feed.ticker(ctx))
        summaries = asyncio.create_task(auth.audit_login_summaries(ctx))
        try:
            yield
        finally:
            for task in (tick, summaries):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if ctx.loop is not None:
                ctx.loop.stop()
            if ctx.jobs is not None:
                ctx.jobs.stop()
            auth.write_login_summary(ctx, force=True)
            ctx.engine.dispose()

    app = FastAPI(title="Greenwave control API", version="1.0.0", lifespan=lifespan,
                  description="Traffic-centre interface: intersections, signal plans, counts, the live control "
                              "loop and its alarms, jobs, audit, live feed. Times are seconds since the Unix epoch "
                              "(server clock).")
    app.state.ctx = ctx
    install_handlers(app)
    for module in (auth, intersections, plans, counts, alarms, jobs, audit, admin, health, feed):
        app.include_router(module.router, prefix=API_PREFIX)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=ctx.metrics)
    return app
