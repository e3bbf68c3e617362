"""Camera threads of one process share one detector: a batching front gathers their frames into batched calls.

Each camera's ``CountingPipeline`` gets a ``CameraClient``, which implements the pipeline's
``Detector`` interface (``max_batch``, ``detect``), so tracking and counting do not change. A
client's ``detect`` queues its frames with the ``BatchingFront`` and blocks; one inference thread
takes the oldest queued frame, adds the next queued frames *of the same size* up to ``batch_size``,
and runs one call of the shared detector as soon as the batch is full, every registered camera is
waiting (no more frames can come), or ``max_wait_ms`` has passed since the oldest frame was queued
and since the detector finished its last call (so a frame waits at most the call in progress plus
``max_wait_ms``). Each camera gets back its own detections, in order.

Why the same size: Ultralytics letterboxes a batch of equal-sized images exactly as it letterboxes
one of them alone (the smallest stride-multiple rectangle), but a batch of mixed sizes to the
model's square input, which would change what the network sees and so the counts. Batching only
equal-sized frames (a camera's region crop: same resolution and same detection region size) keeps
a camera's counts equal to its counts without batching.

An exception in inference reaches every camera whose frames were in that call (as
``BatchInferenceError``); the front goes on serving the others. ``shared_client`` keeps one front
per model and settings in the process, created for the first camera (one model load) and closed
when the last one leaves.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detection.detections import Detections
from detection.detector import Detector
from detection.errors import DetectionError

log = logging.getLogger("greenwave.fleet")

MAX_BATCH_SIZE = 256
MAX_WAIT_LIMIT_MS = 10_000.0
_serial = itertools.count(1)


class BatchInferenceError(DetectionError):
    """The shared detector failed on a batch holding this camera's frames, or the front is closed."""


@dataclass(frozen=True)
class BatchSettings:
    """Batched inference across the cameras of one process.

    Attributes:
        size: most frames per inference call (1..256).
        max_wait_ms: longest the free detector waits for more frames before it runs a batch that is
            not full (0..10000).
    """

    size: int = 8
    max_wait_ms: float = 20.0

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 1 <= self.size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch size (={self.size!r}) must be an integer from 1 to {MAX_BATCH_SIZE}")
        if not (isinstance(self.max_wait_ms, int | float) and math.isfinite(self.max_wait_ms)
                and 0 <= self.max_wait_ms <= MAX_WAIT_LIMIT_MS):
            raise ValueError(f"batch max_wait_ms (={self.max_wait_ms!r}) must be a number from 0 to "
                             f"{MAX_WAIT_LIMIT_MS:g}")


@dataclass(frozen=True)
class FrontStats:
    """What a front did: inference calls, frames, and calls that held frames of more than one camera."""

    calls: int
    frames: int
    mixed_calls: int

    @property
    def frames_per_call(self) -> float:
        return self.frames / self.calls if self.calls else 0.0


class _Request:
    """One ``detect`` call of one camera: its frames, their results, and an event set when all are in."""

    def __init__(self, client: CameraClient, n: int) -> None:
        self.client = client
        self.results: list[Detections | None] = [None] * n
        self.remaining = n
        self.error: str | None = None
        self.cause: BaseException | None = None
        self.done = threading.Event()


@dataclass(frozen=True, eq=False)
class _Item:
    request: _Request
    index: int
    image: NDArray[np.uint8]
    queued_s: float


class BatchingFront:
    """One detector shared by many camera threads, called with batches of their frames.

    Args:
        detector: the shared detector (e.g. a ``MultiCameraDetector``); called from one thread only.
        settings: batch size and longest wait; the batch is also capped at ``detector.max_batch``.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, detector: Detector, settings: BatchSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.detector = detector
        self.name = f"{socket.gethostname()}:{os.getpid()}#{next(_serial)}"  # tells fronts apart in reports
        self.batch_size = max(1, min(settings.size, detector.max_batch))
        self.max_wait_s = settings.max_wait_ms / 1000.0
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: list[_Item] = []
        self._clients: set[CameraClient] = set()
        self._waiting: set[CameraClient] = set()  # clients with a request not yet answered
        self._closing = False
        self._in_flight: list[_Item] = []
        self._free_since = clock()
        self._calls = self._frames = self._mixed = 0
        self._thread = threading.Thread(target=self._loop, name="gw-batch-inference", daemon=True)
        self._thread.start()

    def client(self, name: str, frames_per_call: int | None = None) -> CameraClient:
        """A ``Detector`` for one camera; its pipeline passes up to ``frames_per_call`` frames per
        ``detect`` (default: the batch size; 1 suits a live stream, which then never waits for its
        own next frames)."""
        per_call = self.batch_size if frames_per_call is None else frames_per_call
        if per_call < 1:
            raise ValueError(f"frames_per_call (={per_call}) must be >= 1")
        c = CameraClient(self, name, per_call)
        with self._cond:
            if self._closing:
                raise BatchInferenceError("the batching front is closed")
            self._clients.add(c)
        return c

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> FrontStats:
        with self._cond:
            return FrontStats(self._calls, self._frames, self._mixed)

    def submit(self, client: CameraClient, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Queue ``client``'s frames and wait for their detections (in order).

        Raises:
            BatchInferenceError: inference failed on a batch holding these frames, or the front is closed.
        """
        if not images:
            return []
        request = _Request(client, len(images))
        with self._cond:
            if self._closing or client not in self._clients:
                raise BatchInferenceError(f"camera {client.name}: the batching front is closed")
            now = self._clock()
            self._queue += [_Item(request, i, image, now) for i, image in enumerate(images)]
            self._waiting.add(client)
            self._cond.notify_all()
        request.done.wait()
        if request.error is not None:
            raise BatchInferenceError(f"camera {client.name}: {request.error}") from request.cause
        return list(request.results)  # type: ignore[arg-type]  # every slot is filled once done is set

    def unregister(self, client: CameraClient) -> None:
        """The camera is done: the front no longer waits for its frames."""
        with self._cond:
            self._clients.discard(client)
            self._cond.notify_all()

    def close(self, timeout_s: float = 30.0) -> None:
        """Answer what is queued, then stop the inference thread; later ``detect`` calls raise."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    # --- the inference thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        reason, cause = "the batching front is closed", None
        try:
            while (batch := self._next_batch()) is not None:
                self._in_flight = batch
                self._run(batch)
                self._in_flight = []
                self._free_since = self._clock()
        except BaseException as exc:  # a bug here must not leave cameras waiting forever
            log.exception("batched inference stopped")
            reason, cause = f"the batching front stopped ({type(exc).__name__}: {exc})", exc
        finally:
            with self._cond:
                self._closing = True
                left = [it.request for it in [*self._in_flight, *self._queue]]
            self._fail(left, reason, cause)

    def _next_batch(self) -> list[_Item] | None:
        """Wait until a batch should run (full, every camera waiting, or the wait is over) and take it
        off the queue; None once closed and drained."""
        with self._cond:
            while True:
                if not self._queue:
                    if self._closing:
                        return None
                    self._cond.wait()
                    continue
                head = self._queue[0]
                batch = [it for it in self._queue if it.image.shape == head.image.shape][:self.batch_size]
                # the wait counts from when the detector was free: frames that queued during a call may still
                # gather the frames of the cameras that call answers, instead of running in alternating halves
                left_s = max(head.queued_s, self._free_since) + self.max_wait_s - self._clock()
                if (len(batch) >= self.batch_size or self._closing or left_s <= 0
                        or self._clients <= self._waiting):
                    taken = {id(it) for it in batch}
                    self._queue = [it for it in self._queue if id(it) not in taken]
                    return batch
                self._cond.wait(left_s)

    def _run(self, batch: list[_Item]) -> None:
        try:
            found = self.detector.detect([it.image for it in batch])
            if len(found) != len(batch):
                raise RuntimeError(f"the detector returned {len(found)} result(s) for {len(batch)} frame(s)")
        except Exception as exc:
            log.error("batched inference failed on %d frame(s): %s: %s", len(batch), type(exc).__name__, exc)
            self._fail([it.request for it in batch], f"batched inference failed ({type(exc).__name__}: {exc})",
                       exc)
            return
        with self._cond:
            self._calls += 1
            self._frames += len(batch)
            self._mixed += len({id(it.request.client) for it in batch}) > 1
            for it, detections in zip(batch, found, strict=True):
                request = it.request
                request.results[it.index] = detections
                request.remaining -= 1
                if request.remaining == 0 and request.error is None:
                    self._answer(request)

    def _fail(self, requests: list[_Request], message: str, cause: BaseException | None) -> None:
        """Answer each request with the error and drop its frames still queued."""
        with self._cond:
            failed = {id(r) for r in requests if not r.done.is_set()}
            self._queue = [it for it in self._queue if id(it.request) not in failed]
            for r in requests:
                if not r.done.is_set():
                    r.error, r.cause = message, cause
                    self._answer(r)

    def _answer(self, request: _Request) -> None:
        self._waiting.discard(request.client)
        request.done.set()


class CameraClient:
    """The ``Detector`` one camera's pipeline uses: frames go through the shared ``BatchingFront``.

    Attributes:
        max_batch: frames the pipeline passes per ``detect`` call.
    """

    def __init__(self, front: BatchingFront, name: str, max_batch: int) -> None:
        self.front, self.name, self.max_batch = front, name, max_batch
        self._on_close: Callable[[], None] | None = None

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        return self.front.submit(self, images)

    def close(self) -> None:
        """Leave the front (and, for a ``shared_client``, release the process's shared detector)."""
        self.front.unregister(self)
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


# --- one front per model and settings per process ---------------------------------------------------


@dataclass
class _Shared:
    front: BatchingFront
    users: int = 0


_shared: dict[Hashable, _Shared] = {}
_shared_lock = threading.Lock()


def shared_client(key: Hashable, make_detector: Callable[[], Detector], settings: BatchSettings, name: str,
                  frames_per_call: int | None = None) -> CameraClient:
    """A client of this process's front for ``key``; the first camera creates it (``make_detector``,
    one model load per process), the last one's ``close`` closes it.

    Raises:
        Whatever ``make_detector`` raises (a model that cannot be loaded).
    """
    full_key = (key, settings)
    with _shared_lock:
        entry = _shared.get(full_key)
        if entry is None or not entry.front.alive:
            entry = _shared[full_key] = _Shared(BatchingFront(make_detector(), settings))
            note = getattr(entry.front.detector, "note", None)
            log.info("batched inference: shared detector %s, up to %d frame(s) per call, waiting at most %g ms%s",
                     entry.front.name, entry.front.batch_size, settings.max_wait_ms, f" ({note})" if note else "")
        client = entry.front.client(name, frames_per_call)
        entry.users += 1
    client._on_close = lambda: _release(full_key, entry)
    return client


def _release(full_key: Hashable, entry: _Shared) -> None:
    with _shared_lock:
        entry.users -= 1
        if entry.users > 0:
            return
        if _shared.get(full_key) is entry:
            del _shared[full_key]
    entry.front.close()


def shared_fronts() -> int:
    """How many shared fronts this process holds (for tests and logs)."""
    with _shared_lock:
        return len(_shared)
