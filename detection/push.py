"""Send a camera's ``IntervalCounts`` to the control API (``POST /api/v1/counts``) as that camera.

A background thread sends intervals in order, in batches of at most 100, so counting never waits
for the network. While the API is unreachable or answers 5xx/429, intervals wait (up to
``max_pending``, oldest dropped first) and are resent with exponential back-off. Batch ids are
derived from the camera and the batch's start times, so a batch resent after a lost answer is
recognised by the API as a duplicate, and intervals already stored are skipped by the API.
A 4xx answer (wrong key, unknown movement, camera not attached) cannot be fixed by resending: it
stops the pusher and is raised to the camera's worker (``PushRejected``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from detection.errors import DetectionError
from detection.sources import Backoff
from traffic.counts import IntervalCounts

log = logging.getLogger("greenwave.fleet")

MAX_BATCH = 100  # the API's limit per request
PostFn = Callable[[str, dict[str, Any], dict[str, str], float], tuple[int, str]]


class PushError(DetectionError):
    """Intervals could not be delivered to the API."""


class PushRejected(PushError):
    """The API refused a batch for a reason resending cannot fix (4xx other than 408/429)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, detail
        super().__init__(f"the API refused the counts ({status}): {detail}")


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout_s: float) -> tuple[int, str]:
    """POST ``body`` as JSON; ``(status, response text)``. Network failures raise ``OSError``."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def interval_body(iv: IntervalCounts, epoch_anchor_s: float) -> dict[str, Any]:
    """An interval as the API takes it: stream time moved to Unix time by ``epoch_anchor_s``."""
    return {"start_s": round(epoch_anchor_s + iv.start_s, 3), "duration_s": round(iv.duration_s, 3),
            "health": str(iv.health), "counts": {k: dict(v) for k, v in iv.counts.items()},
            "queues_veh": dict(iv.queues_veh)}


def batch_id(camera_id: str, bodies: list[dict[str, Any]]) -> str:
    """Deterministic: the same intervals from the same camera give the same id."""
    text = camera_id + "|" + ",".join(f"{b['start_s']:.3f}" for b in bodies)
    return "b" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PushStats:
    sent_intervals: int
    stored_intervals: int
    dropped_intervals: int


class CountsPusher:
    """Delivers intervals to ``{api_url}/api/v1/counts`` with the camera's key, from a background thread.

    Args:
        epoch_anchor_s: Unix time of the stream's time 0.
        post: injectable HTTP call (tests); ``post_json`` by default.
    """

    def __init__(self, api_url: str, camera_id: str, api_key: str, epoch_anchor_s: float, *,
                 backoff: Backoff | None = None, timeout_s: float = 10.0, max_pending: int = 10_000,
                 post: PostFn = post_json, sleep_cap_s: float = 30.0) -> None:
        self.url = api_url.rstrip("/") + "/api/v1/counts"
        self.camera_id, self._key, self.anchor_s = camera_id, api_key, epoch_anchor_s
        self.backoff = backoff or Backoff(initial_s=0.5, factor=2.0, max_s=sleep_cap_s)
        self.timeout_s, self.max_pending, self._post = timeout_s, max_pending, post
        self._pending: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = math.inf
        self.error: PushRejected | None = None
        self.last_failure: str | None = None
        self.sent = self.stored = self.dropped = 0
        self._thread = threading.Thread(target=self._loop, name=f"push-{camera_id}", daemon=True)
        self._thread.start()

    def submit(self, interval: IntervalCounts) -> None:
        """Queue an interval (never blocks on the network). Raises the pusher's ``PushRejected``, if any."""
        if self.error is not None:
            raise self.error
        with self._cond:
            self._pending.append(interval_body(interval, self.anchor_s))
            while len(self._pending) > self.max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._cond.notify()

    def close(self, timeout_s: float = 30.0) -> PushStats:
        """Send what is queued (waiting at most ``timeout_s``), stop the thread, and report.

        Raises:
            PushRejected: the API refused a batch.
            PushError: intervals were still undelivered at the deadline.
        """
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify()
        self._thread.join(timeout_s + self.timeout_s + 1.0)
        if self.error is not None:
            raise self.error
        if self._pending:
            raise PushError(f"camera {self.camera_id}: {len(self._pending)} interval(s) not delivered to "
                            f"{self.url} ({self.last_failure or 'timed out'})")
        return PushStats(self.sent, self.stored, self.dropped)

    def _loop(self) -> None:
        attempt = 0
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending or (self._closing and time.monotonic() > self._deadline):
                    return
                batch = [self._pending[i] for i in range(min(MAX_BATCH, len(self._pending)))]
            status, detail = self._send(batch)
            if status in (200, 201):
                with self._cond:
                    for _ in batch:
                        self._pending.popleft()
                attempt = 0
                continue
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                self.error = PushRejected(status, _detail(detail))
                log.error("camera %s: %s", self.camera_id, self.error)
                return
            attempt += 1
            self.last_failure = f"HTTP {status}: {_detail(detail)}" if status is not None else detail
            delay_s = self.backoff.delay_s(attempt)
            log.warning("camera %s: counts not delivered (%s); retrying in %.1f s", self.camera_id,
                        self.last_failure, delay_s)
            with self._cond:  # woken early by close() or a new interval
                if self._closing:
                    delay_s = min(delay_s, max(0.0, self._deadline - time.monotonic()))
                self._cond.wait(timeout=delay_s)

    def _send(self, batch: list[dict[str, Any]]) -> tuple[int | None, str]:
        body = {"camera": self.camera_id, "batch_id": batch_id(self.camera_id, batch), "intervals": batch}
        try:
            status, text = self._post(self.url, body, {"X-API-Key": self._key}, self.timeout_s)
        except OSError as exc:  # refused, unreachable, timed out
            return None, f"{type(exc).__name__}: {exc}"
        if status in (200, 201):
            self.sent += len(batch)
            with suppress(ValueError, AttributeError):  # a 2xx without the API's body: count it as sent only
                self.stored += int(json.loads(text).get("stored_intervals", 0))
        return status, text


def _detail(text: str) -> str:
    try:
        detail = json.loads(text).get("detail", text)
    except (ValueError, AttributeError):
        detail = text
    return " ".join(str(detail).split())[:300]
