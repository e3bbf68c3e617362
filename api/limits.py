"""Per-credential rate limiting (token bucket), login back-off and the request-body size limit."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimiter:
    """A token bucket per credential: ``rate_per_s`` sustained, bursts up to ``burst``."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now_s: float) -> bool:
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now_s))
            tokens = min(self.burst, tokens + max(0.0, now_s - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now_s)
                return False
            self._buckets[key] = (tokens - 1.0, now_s)
            return True


@dataclass
class _Source:
    failures: int = 0
    last_failure_s: float = 0.0
    blocked_until_s: float = 0.0


@dataclass
class _Window:
    """Failed logins for unknown user names and refused attempts, aggregated for one audit summary."""

    start_s: float
    unknown_user: dict[str, int] = field(default_factory=dict)  # per source
    refused: dict[str, int] = field(default_factory=dict)
    audited_sources: set[str] = field(default_factory=set)


class LoginGuard:
    """Login limits that an attacker cannot turn against a user.

    * Per client address: ``free_failures`` failed logins, then exponential back-off (``base_s``, doubling
      per further failure, at most ``max_s``); failures are forgotten ``reset_s`` after the last one. A
      user is never locked out: a wrong password from one address does not slow down another address.
    * Globally: a token bucket of ``rate_per_s`` attempts, bursts of ``burst`` (argon2 costs CPU).
    * Audit: failed logins for unknown user names and refused attempts are counted per window of
      ``window_s``; the first unknown-name failure of an address is audited at once (at most
      ``first_rows`` per window), the rest in one summary row when the window ends.
    """

    def __init__(self, free_failures: int, base_s: float, max_s: float, reset_s: float, rate_per_s: float,
                 burst: float, window_s: float, first_rows: int = 10, max_sources: int = 100_000) -> None:
        self.free_failures = free_failures
        self.base_s = base_s
        self.max_s = max_s
        self.reset_s = reset_s
        self.window_s = window_s
        self.first_rows = first_rows
        self.max_sources = max_sources
        self._global = RateLimiter(rate_per_s, burst)
        self._sources: dict[str, _Source] = {}
        self._window: _Window | None = None
        self._lock = threading.Lock()

    def admit(self, source: str, now_s: float) -> float:
        """0 when ``source`` may try a login now; else the seconds to wait (counted as a refused attempt)."""
        with self._lock:
            state = self._sources.get(source)
            wait = state.blocked_until_s - now_s if state is not None else 0.0
            if wait <= 0 and not self._global.allow("*", now_s):
                wait = 1.0 / max(self._global.rate, 1e-9)
            if wait > 0:
                window = self._window_at(now_s)
                if len(window.refused) < self.max_sources or source in window.refused:
                    window.refused[source] = window.refused.get(source, 0) + 1
            return max(0.0, wait)

    def failed(self, source: str, now_s: float, known_user: bool) -> bool:
        """Record a failed login; True when it should be audited now (always for a known user name)."""
        with self._lock:
            state = self._sources.get(source)
            if state is None:
                if len(self._sources) >= self.max_sources:
                    self._prune(now_s)
                state = self._sources.setdefault(source, _Source())
            if now_s - state.last_failure_s > self.reset_s:
                state.failures = 0
            state.failures += 1
            state.last_failure_s = now_s
            extra = state.failures - self.free_failures
            if extra > 0:
                delay = min(self.max_s, self.base_s * 2.0 ** min(extra - 1, 60))
                state.blocked_until_s = max(state.blocked_until_s, now_s + delay)
            if known_user:
                return True
            window = self._window_at(now_s)
            if len(window.unknown_user) < self.max_sources or source in window.unknown_user:
                window.unknown_user[source] = window.unknown_user.get(source, 0) + 1
            if source in window.audited_sources or len(window.audited_sources) >= self.first_rows:
                return False
            window.audited_sources.add(source)
            return True

    def due_summary(self, now_s: float, force: bool = False) -> dict[str, Any] | None:
        """The summary of the window that ended by ``now_s`` (any open one when ``force``), once; else None."""
        with self._lock:
            window = self._window
            if window is None or (not force and now_s < window.start_s + self.window_s):
                return None
            self._window = None
            return _summary(window, now_s if force else window.start_s + self.window_s)

    def _window_at(self, now_s: float) -> _Window:
        if self._window is None:
            self._window = _Window(start_s=now_s)
        return self._window

    def _prune(self, now_s: float) -> None:
        for key in [k for k, v in self._sources.items()
                    if v.blocked_until_s <= now_s and now_s - v.last_failure_s > self.reset_s]:
            del self._sources[key]
        while len(self._sources) >= self.max_sources:  # still full: forget the oldest
            del self._sources[min(self._sources, key=lambda k: self._sources[k].last_failure_s)]


def _summary(window: _Window, end_s: float) -> dict[str, Any] | None:
    unknown, refused = sum(window.unknown_user.values()), sum(window.refused.values())
    if unknown + refused == 0:
        return None
    counts: dict[str, int] = {}
    for part in (window.unknown_user, window.refused):
        for source, n in part.items():
            counts[source] = counts.get(source, 0) + n
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    return {"from_s": window.start_s, "to_s": end_s, "unknown_user": unknown, "refused": refused,
            "sources": len(counts), "top_sources": dict(top)}


def retry_after(wait_s: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _reject(send)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reject(send)


class _TooLarge(Exception):
    pass


async def _reject(send: Send) -> None:
    body = json.dumps({"detail": "request body too large"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
