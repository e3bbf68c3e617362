"""Storage: SQLAlchemy 2 tables, the engine factory (SQLite in WAL mode or PostgreSQL) and migrations.

Times are float seconds since the Unix epoch. JSON documents (plan bodies, audit before/after,
job requests and results) are stored as text so that both SQLite and PostgreSQL hold them alike.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
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
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class UserSession(Base):
    """One login: its id is the ``sid`` claim of the token; every request checks it is still open."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(64))


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    intersection: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


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


class Alarm(Base):
    """Something an operator must see (camera data bad and failsafe entered, a controller plan refused):
    raised by the live loop, cleared when the cause is gone, acknowledged by an operator (audited)."""

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raised_at: Mapped[float] = mapped_column(Float, index=True)
    intersection: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cleared_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full fsync on commit, foreign keys and a busy timeout.

    An SQLite database file (and its ``-wal`` and ``-shm`` files) is readable by its owner only: created
    with mode 0600, and tightened to 0600 when an existing one is opened.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        db_file = _sqlite_file(engine)
        if db_file is not None:
            _create_private(db_file)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            if db_file is not None:
                make_private(db_file)

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_private(path: Path) -> None:
    """Create an empty database file with mode 0600 (SQLite gives its -wal and -shm files the same mode)."""
    if path.exists() or not path.parent.is_dir():
        return  # a missing folder is reported when the engine connects
    old = os.umask(0o077)
    try:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # the engine reports it on connect
    finally:
        os.umask(old)


def make_private(path: Path) -> None:
    """Mode 0600 for an SQLite database file and its side files that exist and are ours."""
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(OSError):
            info = side.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                side.chmod(0o600)


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
