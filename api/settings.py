"""Typed service configuration: built once per app, never read from module globals."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.db_url import default_db_url
from traffic.plan_validation import DEFAULT_RULES, ValidationRules

if TYPE_CHECKING:  # the controller (and its Numba kernels) is imported when the loop first decides
    from signal_control.adaptive import AdaptiveParams

SECRET_KEY_ENV = "GREENWAVE_SECRET_KEY"  # the token-signing key itself (at least 32 characters)
SECRET_KEY_FILE_ENV = "GREENWAVE_SECRET_KEY_FILE"  # or a file holding it (created 0600 when missing)
MAX_TOKEN_TTL_S = 12 * 3600.0  # no bearer token lives longer, whatever the configuration


@dataclass(frozen=True)
class Settings:
    """Everything the service needs; tests build their own.

    Attributes:
        db_url: SQLAlchemy URL (``sqlite:///file.db`` or ``postgresql+psycopg://...``).
        scenario: built-in scenario name or scenario file the server manages.
        secret_key: the token-signing key (default ``$GREENWAVE_SECRET_KEY``); never stored in the database.
        secret_key_file: file holding the key (default ``$GREENWAVE_SECRET_KEY_FILE``, else ``<db file>.key``
            beside an SQLite database, else ``~/.config/greenwave/secret.key``); created with mode 0600.
        token_ttl_s: lifetime of a bearer token (at most ``MAX_TOKEN_TTL_S``, 12 h).
        max_body_bytes: larger request bodies get 413.
        max_batch_intervals: most intervals in one counts batch.
        rate_per_s, rate_burst: token bucket per credential (user or camera); 429 beyond it.
        job_workers: worker processes for simulation/optimisation jobs (0: jobs stay queued).
        tick_s: how often the live feed looks for phase changes.
        clock: seconds since the Unix epoch; signal timing is ``(clock() - offset_s) mod cycle_s``.
        max_job_seeds, max_job_duration_s: limits on one simulation job.
        login_free_failures: failed logins a client address may make before back-off starts.
        login_backoff_base_s, login_backoff_max_s: back-off after the free failures: base, doubling per
            further failure, capped at max (429 with Retry-After meanwhile).
        login_failure_reset_s: a client address's failures are forgotten after this long without one.
        login_rate_per_s, login_burst: token bucket on all login attempts together (429 beyond it).
        login_audit_window_s: failed logins for unknown user names and refused attempts are audited as one
            summary row per window (plus the first few of each window at once).
        max_clock_skew_s: a count interval may end at most this long after the server's clock (422 beyond:
            a camera clock far ahead would otherwise be the "latest" forever).
        max_interval_age_s: a count interval may start at most this long before the server's clock.
        time_zone: IANA zone of the deployment (e.g. ``Asia/Ho_Chi_Minh``) for time-of-day schedules;
            stored in the database, so None keeps the stored one (UTC when none was ever given).
        adaptive: settings of the adaptive controller the live loop runs (None: its defaults).
        detector_interval_s: the counting interval the live loop decides on (None: the duration of the first
            counts received, then stored).
        loop_grace_s: an interval is decided when every intersection with a camera has sent its counts, or
            this long after it ended (the missing intersections then count as missing).
        loop_poll_s: how often the live loop's thread looks for intervals to decide (0: no thread; tests
            call ``ctx.loop.step()``).
    """

    db_url: str = field(default_factory=default_db_url)
    scenario: str = "arterial"
    secret_key: str | None = field(default_factory=lambda: os.environ.get(SECRET_KEY_ENV) or None, repr=False)
    secret_key_file: str | None = field(default_factory=lambda: os.environ.get(SECRET_KEY_FILE_ENV) or None)
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
    login_free_failures: int = 5
    login_backoff_base_s: float = 1.0
    login_backoff_max_s: float = 900.0
    login_failure_reset_s: float = 3600.0
    login_rate_per_s: float = 10.0
    login_burst: float = 50.0
    login_audit_window_s: float = 300.0
    max_clock_skew_s: float = 300.0
    max_interval_age_s: float = 7 * 86400.0
    time_zone: str | None = None
    adaptive: AdaptiveParams | None = None
    detector_interval_s: float | None = None
    loop_grace_s: float = 30.0
    loop_poll_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.token_ttl_s <= MAX_TOKEN_TTL_S:
            raise ValueError(f"token_ttl_s must be in (0, {MAX_TOKEN_TTL_S:g}] s (got {self.token_ttl_s!r})")
