"""Fixtures for the API tests: an app on a fresh database (SQLite, or PostgreSQL when available),
users of every role, a camera, and an injectable clock."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from api.routes.admin import create_camera, create_user
from api.sessions import open_session
from api.settings import Settings

PG_ENV = "GREENWAVE_TEST_PG_URL"  # e.g. postgresql+psycopg://postgres@127.0.0.1:55432/postgres
ROLES = ("viewer", "operator", "engineer", "admin")
T0 = 1_800_000_000.0  # a cycle boundary for every built-in plan (divisible by their cycles)


class FakeClock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def fresh_db_url(kind: str, tmp_path) -> str:
    """An empty database: an SQLite file, or a new database on the test PostgreSQL server."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'greenwave.db'}"
    base = postgres_url()
    if base is None:
        pytest.skip(f"PostgreSQL storage tests need ${PG_ENV} (.ci/run starts a throwaway server)")
    import psycopg

    name = f"gw_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


@dataclass
class Api:
    """A running test app with a client, its context, and credentials for every role."""

    client: TestClient
    clock: FakeClock
    headers: dict[str, dict[str, str]]
    camera_key: str
    camera_iid: str

    @property
    def ctx(self):
        return self.client.app.state.ctx

    def as_(self, role: str) -> dict[str, str]:
        return self.headers[role]


def start_api(db_url: str, clock: FakeClock, **overrides) -> Iterator[Api]:
    settings = replace(Settings(db_url=db_url, scenario="arterial", job_workers=0, tick_s=0.05, clock=clock,
                                rate_per_s=1000.0, rate_burst=1000.0), **overrides)
    app = create_app(settings)
    ctx = app.state.ctx
    with ctx.sessions() as db:
        for role in ROLES:
            if db.execute(text("SELECT 1 FROM users WHERE name = :n"), {"n": role}).first() is None:
                create_user(db, role, role, f"{role}-password", "test", clock())
        cam = create_camera(ctx, db, f"cam-{uuid.uuid4().hex[:6]}", "I1", "test")
        headers = {r: {"Authorization": "Bearer " + user_token(ctx, db, r)} for r in ROLES}
    with TestClient(app) as client:
        yield Api(client, clock, headers, cam["api_key"], "I1")


def user_token(ctx, db, name: str, ttl_s: float = 3600.0) -> str:
    """A bearer token of a new session of user ``name`` (as a login would give)."""
    from api.db import User

    user = db.query(User).filter_by(name=name).one()
    token = open_session(db, ctx.secret, user, ctx.now(), ttl_s, "test").token
    db.commit()
    return token


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    return fresh_db_url(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return fresh_db_url("sqlite", tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(sqlite_url: str, clock: FakeClock) -> Iterator[Api]:
    yield from start_api(sqlite_url, clock)


@pytest.fixture
def api_any_db(db_url: str, clock: FakeClock) -> Iterator[Api]:
    """The same app on SQLite and on PostgreSQL (skipped without a server)."""
    yield from start_api(db_url, clock)


@pytest.fixture
def make_api(tmp_path, clock: FakeClock) -> Callable[..., Iterator[Api]]:
    def make(**overrides) -> Iterator[Api]:
        return start_api(fresh_db_url("sqlite", tmp_path), clock, **overrides)

    return make


def plan_body(name: str = "wave2", main_green_s: float = 40.0, side_green_s: float = 30.0,
              offset_s: float = 0.0, intersection: str = "I1") -> dict:
    """A plan for an arterial intersection with the phasing of its 'zero' program and these greens."""
    from traffic.scenario_io import plan_to_model

    plan = _arterial().plans[intersection]["zero"]
    body = plan_to_model(plan, with_intersection=False).model_dump()
    body["phases"][0]["green_s"] = main_green_s
    body["phases"][1]["green_s"] = side_green_s
    body.update(name=name, offset_s=offset_s, cycle_s=main_green_s + side_green_s + 10.0)
    body.pop("intersection")
    return body


@functools.cache
def _arterial():
    from traffic.scenario_io import load_scenario

    return load_scenario("arterial")
