"""Everything a request handler needs, built once per app by ``api.main.create_app``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from api.feed import Hub
from api.limits import RateLimiter
from api.live import LiveState
from api.metrics import Metrics
from api.security import Principal, Role, decode_token
from api.settings import Settings
from traffic.scenario import Scenario

if TYPE_CHECKING:
    from api.jobs import JobRunner

TOKEN_CACHE_SIZE = 10_000


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
    secret: str
    login_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(1.0, 10.0))  # per user name
    camera_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key id -> (camera, digest)
    jobs: JobRunner | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def now(self) -> float:
        return self.settings.clock()

    def principal_for_token(self, token: str) -> Principal | None:
        """The user a bearer token names, or None (verified signatures are cached until expiry)."""
        now = self.now()
        hit = self._tokens.get(token)
        if hit is not None:
            return hit[0] if hit[1] > now else None
        claims = decode_token(self.secret, token, now)
        if claims is None:
            return None
        principal = Principal(str(claims["sub"]), Role[claims["role"]])
        if len(self._tokens) >= TOKEN_CACHE_SIZE:
            self._tokens.clear()
        self._tokens[token] = (principal, float(claims["exp"]))
        return principal
