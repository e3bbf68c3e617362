"""Storage: SQLAlchemy 2 tables, the engine factory (SQLite in WAL mode or PostgreSQL) and migrations.

Times are float seconds since the Unix epoch. JSON documents (plan bodies, audit before/after,
job requests and results) are stored as text so that both SQLite and PostgreSQL hold them alike.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float)


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    intersection: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class Plan(Base):
    """One version of a named plan of an intersection; a change is a new row, never an update."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("intersection", "name", "version", name="uq_plan_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intersection: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class Activation(Base):
    """A plan put in force at ``effective_at`` (a cycle boundary); the latest effective row wins."""

    __tablename__ = "activations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intersection: Mapped[str] = mapped_column(String(128), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    kind: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[float] = mapped_column(Float)
    effective_at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))


class Control(Base):
    """Controller mode of an intersection, with a version for optimistic concurrency."""

    __tablename__ = "controls"
    intersection: Mapped[str] = mapped_column(String(128), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)


class Schedule(Base):
    __tablename__ = "schedules"
    intersection: Mapped[str] = mapped_column(String(128), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)


class CountBatch(Base):
    __tablename__ = "count_batches"
    __table_args__ = (UniqueConstraint("camera", "batch_id", name="uq_count_batch"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[float] = mapped_column(Float)
    intervals: Mapped[int] = mapped_column(Integer)


class CountInterval(Base):
    __tablename__ = "count_intervals"
    __table_args__ = (UniqueConstraint("camera", "start_s", name="uq_count_interval"),
                      Index("ix_count_interval_inter", "intersection", "start_s"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_pk: Mapped[int] = mapped_column(ForeignKey("count_batches.id"))
    camera: Mapped[str] = mapped_column(String(64))
    intersection: Mapped[str] = mapped_column(String(128))
    start_s: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    health: Mapped[str] = mapped_column(String(16))
    queues: Mapped[str] = mapped_column(Text)


class CountRow(Base):
    """Vehicles of one class on one movement (or approach) during one interval."""

    __tablename__ = "count_rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interval_id: Mapped[int] = mapped_column(ForeignKey("count_intervals.id"), index=True)
    movement: Mapped[str] = mapped_column(String(128))
    vehicle_class: Mapped[str] = mapped_column(String(32))
    vehicles: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """Append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(256))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float)
    request: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full fsync on commit, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
