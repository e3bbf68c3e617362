"""Everything a request handler needs, built once per app by ``api.main.create_app``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from api.feed import Hub
from api.limits import LoginGuard, RateLimiter
from api.live import LiveState
from api.metrics import Metrics
from api.security import Principal
from api.sessions import principal_for_token
from api.settings import Settings
from traffic.scenario import Scenario

if TYPE_CHECKING:
    from api.jobs import JobRunner
    from api.live_loop import ControlLoop


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    scenario: Scenario
    scenario_ref: str
    live: LiveState
    hub: Hub
    limiter: RateLimiter
    metrics: Metrics
    secret: str = field(repr=False)  # the token-signing key (api.signing_key), never stored in the database
    login_guard: LoginGuard = field(default_factory=lambda: LoginGuard(5, 1.0, 900.0, 3600.0, 10.0, 50.0, 300.0))
    jobs: JobRunner | None = None
    loop: ControlLoop | None = None  # the live control loop (api.live_loop), built by create_app
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    time_zone: str = "UTC"  # IANA zone of the deployment: time-of-day schedules run on it (stored in the DB)

    def now(self) -> float:
        return self.settings.clock()

    def principal_for_token(self, token: str) -> Principal | None:
        """The user a bearer token names while its session and user are valid (checked in the database
        on every call, so revocations act at once); otherwise None."""
        with self.sessions() as db:
            return principal_for_token(db, self.secret, token, self.now())
