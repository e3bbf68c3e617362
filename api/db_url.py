"""Check a database URL before anything connects to it: a clear sentence instead of a driver's traceback."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB_URL = "sqlite:///greenwave.db"
DB_ENV = "GREENWAVE_DB"
SUPPORTED = "sqlite:///FILE.db or postgresql+psycopg://USER@HOST/DB"
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary"}


def default_db_url() -> str:
    """``$GREENWAVE_DB`` or an SQLite file ``greenwave.db`` in the working directory."""
    return os.environ.get(DB_ENV, DEFAULT_DB_URL)


def db_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used as Greenwave's database (a phrase that follows the URL), or ``None``.

    Accepted: SQLite (a file whose folder exists, or in memory) and PostgreSQL with its driver installed.
    The password of a URL is never repeated in the answer.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return f"is not a database URL (expected {SUPPORTED})"
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        return f"names database {backend!r}, which is not supported (expected {SUPPORTED})"
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"names an unknown driver {parsed.drivername!r} (expected {SUPPORTED})"
    if getattr(dialect, "is_async", False):
        return f"names the asynchronous driver {parsed.drivername!r}, which is not supported (expected {SUPPORTED})"
    driver = parsed.get_driver_name()
    try:
        dialect.import_dbapi()
    except ImportError:
        package = _DRIVER_PACKAGES.get(driver, driver)
        return f"needs the {backend} driver {driver!r}, which is not installed: pip install '{package}'"
    if backend == "sqlite":
        return _sqlite_file_problem(parsed.database)
    return None


def _sqlite_file_problem(database: str | None) -> str | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if path.is_dir():
        return f"names the folder {database!r}, not a database file"
    if not path.absolute().parent.is_dir():
        return f"names a file in folder {str(path.parent)!r}, which does not exist"
    return None


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing to hide inside it
        return url
