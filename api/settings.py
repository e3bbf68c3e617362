"""Typed service configuration: built once per app, never read from module globals."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from traffic.plan_validation import DEFAULT_RULES, ValidationRules

DEFAULT_DB_URL = "sqlite:///greenwave.db"
DB_ENV = "GREENWAVE_DB"


def default_db_url() -> str:
    """``$GREENWAVE_DB`` or an SQLite file ``greenwave.db`` in the working directory."""
    return os.environ.get(DB_ENV, DEFAULT_DB_URL)


@dataclass(frozen=True)
class Settings:
    """Everything the service needs; tests build their own.

    Attributes:
        db_url: SQLAlchemy URL (``sqlite:///file.db`` or ``postgresql+psycopg://...``).
        scenario: built-in scenario name or scenario file the server manages.
        token_ttl_s: lifetime of a bearer token.
        max_body_bytes: larger request bodies get 413.
        max_batch_intervals: most intervals in one counts batch.
        rate_per_s, rate_burst: token bucket per credential (user or camera); 429 beyond it.
        job_workers: worker processes for simulation/optimisation jobs (0: jobs stay queued).
        tick_s: how often the live feed looks for phase changes.
        clock: seconds since the Unix epoch; signal timing is ``(clock() - offset_s) mod cycle_s``.
        max_job_seeds, max_job_duration_s: limits on one simulation job.
    """

    db_url: str = field(default_factory=default_db_url)
    scenario: str = "arterial"
    token_ttl_s: float = 1800.0
    max_body_bytes: int = 1_000_000
    max_batch_intervals: int = 100
    rate_per_s: float = 100.0
    rate_burst: float = 200.0
    job_workers: int = 1
    tick_s: float = 0.5
    clock: Callable[[], float] = time.time
    rules: ValidationRules = DEFAULT_RULES
    max_job_seeds: int = 10
    max_job_duration_s: float = 7200.0
