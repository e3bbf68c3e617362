"""Many cameras on Dask: one long-lived task per camera counts its source and pushes the intervals
to the control API; a supervisor restarts a camera that failed, with back-off, a bounded number of
times, and reports it failed after that without stopping the others.

Each camera is a plain Dask task (``run_camera``) that runs for as long as its source does (a live
stream: until the fleet is stopped), so it holds one worker thread: give the cluster at least one
thread per camera. A worker process that dies is handled by Dask first (it re-runs the task on
another worker); a task that ends with an error, or that Dask gave up on, is restarted here.

With ``job.batch`` set, the cameras running in one worker process share one detector (one model
load) and their frames run in batched calls (``detection.batching``); a model whose backend cannot
batch (the TFLite export) falls back to a detector per camera, with one warning per model.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

from detection.batched import BatchSupport, batch_support
from detection.fleet_config import CameraJob, Fleet
from detection.push import CountsPusher, PushError, PushRejected

log = logging.getLogger("greenwave.fleet")


@dataclass(frozen=True)
class CameraRun:
    """What one attempt of a camera did: frames, intervals counted and stored by the API, vehicles."""

    camera_id: str
    attempt: int
    source: str
    frames_read: int
    frames_processed: int
    stride: int
    intervals: int
    stored_intervals: int
    vehicles: int
    health: str
    stopped: bool
    batched: bool = False
    shared_detector: str | None = None  # "host:pid#n": the process's shared detector this camera used
    frames_per_call: float | None = None  # that detector's mean frames per inference call so far


def run_camera(job: CameraJob, attempt: int = 1, stop_event: str | None = None, *,
               open_source: Callable[[str], Any] | None = None,
               make_detector: Callable[[CameraJob], Any] | None = None,
               make_shared_detector: Callable[[CameraJob], Any] | None = None,
               push_timeout_s: float = 60.0) -> CameraRun:
    """One attempt of one camera: count its source and push every interval; the Dask task.

    Args:
        stop_event: name of a ``distributed.Event``; once set, the camera ends cleanly (checked
            about once a second).
        open_source, make_detector, make_shared_detector: injectable for tests (default:
            ``detection.sources.open_source``, a ``YoloDetector`` of the job's model, and, with
            ``job.batch``, one ``MultiCameraDetector`` per process shared by its cameras).

    Raises:
        Whatever stops the camera: the source cannot be opened, the model cannot be loaded, the
        API refused the counts (``PushRejected``) or could not be reached before the deadline
        (``PushError``), batched inference failed (``BatchInferenceError``), or any unexpected error.
    """
    from detection.sources import open_source as default_open_source

    source = (open_source or default_open_source)(job.source)
    detector = camera_detector(job, source.is_live, make_detector, make_shared_detector)
    try:
        return _count(job, attempt, stop_event, source, detector, push_timeout_s)
    finally:
        close = getattr(detector, "close", None) if job.batch is not None else None
        if close is not None:
            close()


def _count(job: CameraJob, attempt: int, stop_event: str | None, source: Any, detector: Any,
           push_timeout_s: float) -> CameraRun:
    from detection.pipeline import CountingPipeline, PipelineSettings, auto_stride

    stride = job.stride or auto_stride(source, detector, job.camera)
    anchor_s = time.time() if source.is_live else job.epoch_anchor_s
    pusher = CountsPusher(job.api_url, job.camera_id, job.api_key, anchor_s)
    stop = _stop_check(stop_event)
    stopped = {"by_event": False}

    def should_stop() -> bool:
        stopped["by_event"] = stopped["by_event"] or stop()
        return stopped["by_event"] or pusher.error is not None

    settings = PipelineSettings(stride=stride, tracker=job.tracker, interval_s=job.interval_s,
                                max_frames=job.max_frames)
    log.info("camera %s: attempt %d, %s, stride %d%s", job.camera_id, attempt, source.name, stride,
             ", batched" if job.batch is not None else "")
    try:
        run = CountingPipeline(job.camera, detector, settings).run(source, should_stop=should_stop,
                                                                   on_interval=pusher.submit)
    except BaseException:
        with suppress(PushError):  # deliver what was counted before the failure
            pusher.close(timeout_s=5.0)
        raise
    stats = pusher.close(push_timeout_s)
    vehicles = sum(iv.vehicles(k) for iv in run.intervals for k in iv.counts)
    front = getattr(detector, "front", None) if job.batch is not None else None
    return CameraRun(job.camera_id, attempt, run.source, run.frames_read, run.frames_processed, stride,
                     len(run.intervals), stats.stored_intervals, vehicles, str(run.health.state), stopped["by_event"],
                     job.batch is not None, None if front is None else front.name,
                     None if front is None else round(front.stats().frames_per_call, 2))


def camera_detector(job: CameraJob, live: bool, make_detector: Callable[[CameraJob], Any] | None = None,
                    make_shared_detector: Callable[[CameraJob], Any] | None = None) -> Any:
    """The detector a camera's pipeline calls: its own, or with ``job.batch`` a ``CameraClient`` of
    the process's shared batching detector for the job's model (close it when the camera ends).

    A live camera passes one frame per call (it never waits for its own next frames: the other
    cameras fill the batch); a file passes up to a whole batch.
    """
    if job.batch is None:
        return (make_detector or _yolo)(job)
    from detection.batching import shared_client

    make = make_shared_detector or _multi
    return shared_client((job.model, make), lambda: make(job), job.batch, job.camera_id,
                         frames_per_call=1 if live else None)


def unbatchable_off(fleet: Fleet, support: Callable[[str], BatchSupport] = batch_support) -> Fleet:
    """The fleet with batching turned off for cameras whose model cannot batch, saying so once per model."""
    off = {}
    for model in sorted({j.model for j in fleet.jobs if j.batch is not None}):
        s = support(model)
        if not s.native:
            off[model] = s.reason
            log.warning("batched inference is off for %s (%s): each camera runs its own detector", model, s.reason)
    if not off:
        return fleet
    return replace(fleet, jobs=tuple(replace(j, batch=None) if j.model in off else j for j in fleet.jobs))


def _multi(job: CameraJob) -> Any:
    from detection.batched import MultiCameraDetector

    return MultiCameraDetector(job.model, job.batch.size if job.batch is not None else 1)


def _yolo(job: CameraJob) -> Any:
    from detection.detector import YoloDetector

    return YoloDetector(job.model, cpu_threads=job.cpu_threads)


def _stop_check(name: str | None, every_s: float = 1.0) -> Callable[[], bool]:
    """A cheap poll of the fleet's stop event (one scheduler round trip per ``every_s`` at most)."""
    if name is None:
        return lambda: False
    from distributed import Event

    event = Event(name)
    checked_s = -float("inf")
    stopped = False

    def check() -> bool:
        nonlocal checked_s, stopped
        now = time.monotonic()
        if not stopped and now - checked_s >= every_s:
            checked_s = now
            with suppress(Exception):  # scheduler briefly unreachable: keep counting
                stopped = bool(event.is_set())
        return stopped

    return check


@dataclass
class CameraStatus:
    """A camera's state in the fleet: ``running``, ``waiting`` (to restart), ``done``, ``failed`` or ``stopped``."""

    camera_id: str
    state: str = "running"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    result: CameraRun | None = None

    @property
    def restarts(self) -> int:
        return max(0, self.attempts - 1)


Task = Callable[..., CameraRun]


def run_fleet(client: Any, fleet: Fleet, *, task: Task = run_camera, task_kwargs: dict[str, Any] | None = None,
              grace_s: float = 30.0) -> list[CameraStatus]:
    """Run every camera of ``fleet`` on the Dask ``client``'s cluster until each is done or failed.

    A camera whose task fails is restarted after ``fleet.restart.backoff.delay_s(n)`` for its n-th
    restart, at most ``fleet.restart.max_restarts`` times (``PushRejected`` is never retried: the
    API refused the credential or the counts). Ctrl-C (``KeyboardInterrupt``) stops every camera
    cleanly (each pushes what it counted) within ``grace_s``. Batching is turned off, with one
    warning, for the cameras of a model whose backend cannot batch (``unbatchable_off``).
    """
    from distributed import Event

    fleet = unbatchable_off(fleet)
    token = uuid.uuid4().hex[:10]
    stop_name = f"gw-fleet-stop-{token}"
    stop = Event(stop_name, client=client)
    sup = _Supervisor(client, fleet, task, task_kwargs or {}, token, stop_name)
    try:
        sup.run()
    except KeyboardInterrupt:
        log.warning("stopping %d camera(s)", len(sup.running))
        stop.set()
        sup.drain(grace_s)
    finally:
        client.cancel(list(sup.running))
        for cid in sup.running.values():
            sup.status[cid].state = "stopped"
        for _, cid in sup.due:
            sup.status[cid].state = "stopped"
    return list(sup.status.values())


class _Supervisor:
    """Submits camera attempts, watches them, and schedules restarts."""

    def __init__(self, client: Any, fleet: Fleet, task: Task, kwargs: dict[str, Any], token: str,
                 stop_name: str) -> None:
        self.client, self.fleet, self.task, self.kwargs = client, fleet, task, kwargs
        self.token, self.stop_name = token, stop_name
        self.jobs = {j.camera_id: j for j in fleet.jobs}
        self.status = {cid: CameraStatus(cid) for cid in self.jobs}
        self.running: dict[Any, str] = {}
        self.due: list[tuple[float, str]] = []
        self.stopping = False

    def run(self) -> None:
        for cid in self.jobs:
            self.submit(cid)
        while self.running or self.due:
            now = time.monotonic()
            for item in [d for d in self.due if d[0] <= now]:
                self.due.remove(item)
                self.submit(item[1])
            timeout_s = max(0.0, min(t for t, _ in self.due) - now) if self.due else None
            if not self.running:
                time.sleep(timeout_s or 0.0)
                continue
            for future in self.wait_first(timeout_s):
                self.finished(future)

    def wait_first(self, timeout_s: float | None) -> list[Any]:
        from distributed import wait

        try:
            done, _ = wait(list(self.running), timeout=timeout_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(done)

    def submit(self, cid: str) -> None:
        st = self.status[cid]
        st.attempts += 1
        st.state = "running"
        key = f"gw-camera-{self.token}-{cid}-a{st.attempts}"
        future = self.client.submit(self.task, self.jobs[cid], st.attempts, self.stop_name, **self.kwargs, key=key,
                                    pure=False, retries=0)
        self.running[future] = cid

    def finished(self, future: Any) -> None:
        cid = self.running.pop(future)
        st = self.status[cid]
        if future.status == "finished":
            st.result = future.result()
            st.state = "stopped" if st.result.stopped else "done"
            log.info("camera %s: %s after %d frame(s), %d interval(s) stored", cid, st.state, st.result.frames_read,
                     st.result.stored_intervals)
            return
        if future.status == "cancelled":
            st.state = "stopped"
            return
        exc = future.exception()
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        st.errors.append(message)
        policy = self.fleet.restart
        if self.stopping:
            st.state = "stopped"
            return
        if isinstance(exc, PushRejected) or st.restarts >= policy.max_restarts:
            st.state = "failed"
            log.error("camera %s: failed for good after %d attempt(s): %s", cid, st.attempts, message)
            return
        delay_s = policy.backoff.delay_s(st.restarts + 1)
        st.state = "waiting"
        self.due.append((time.monotonic() + delay_s, cid))
        log.warning("camera %s: attempt %d failed (%s); restart %d of %d in %.3g s", cid, st.attempts, message,
                    st.restarts + 1, policy.max_restarts, delay_s)

    def drain(self, grace_s: float) -> None:
        """After the stop event: wait for the running cameras to end (they push what they counted)."""
        self.stopping = True
        self.due.clear()
        deadline = time.monotonic() + grace_s
        while self.running and time.monotonic() < deadline:
            for future in self.wait_first(max(0.0, deadline - time.monotonic())):
                self.finished(future)
