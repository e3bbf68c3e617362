"""Frames -> detections -> tracks -> count events, interval counts and camera health."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np
from numpy.typing import NDArray

from detection.aggregation import IntervalAggregator
from detection.annotate import AnnotatedVideoWriter, draw_overlay
from detection.config import CameraConfig
from detection.counting import Counter, CountEvent, Direction
from detection.detections import Detections
from detection.detector import Detector
from detection.health import HealthMonitor, HealthReport
from detection.line_counter import LineCounter
from detection.region import RegionDetector
from detection.sources import Frame, FrameSource, StreamLost, VideoFileSource
from detection.stride import StrideChoice, decide_stride
from detection.tracking import ClassVotes, VehicleTracker
from detection.zone_counter import ZoneCounter
from traffic.counts import Health, IntervalCounts
from traffic.vehicles import VEHICLE_CLASSES


@dataclass(frozen=True)
class PipelineSettings:
    """How frames are processed.

    Attributes:
        stride: process every ``stride``-th frame.
        tracker: ``"motion"`` (rate-independent association, ``detection.motion_tracker``), or
            Ultralytics' ``"bytetrack"`` or ``"botsort"``.
        track_buffer_s: how long a lost track may be re-found.
        interval_s: length of the ``IntervalCounts`` intervals; None: no interval counts.
        class_settle_s: stream time a count waits for more class votes before it is reported
            (kept below ``track_buffer_s`` so the track's votes still exist).
        crop_to_region: detect only inside the camera's detection region (``detection.region``).
        region_margin_frac: margin of that region around the lines and zones, in frame heights.
        max_frames: stop after this many source frames (None: until the source ends).
    """

    stride: int = 1
    tracker: str = "motion"
    track_buffer_s: float = 1.5
    interval_s: float | None = None
    max_frames: int | None = None
    class_settle_s: float = 1.0
    crop_to_region: bool = True
    region_margin_frac: float = 0.3

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride (={self.stride}) must be >= 1")


@dataclass(frozen=True)
class LineTotal:
    """IN and OUT totals of one line, overall and per class."""

    name: str
    in_count: int
    out_count: int
    by_class: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "in": self.in_count, "out": self.out_count, "by_class": self.by_class}


@dataclass(frozen=True)
class CountRun:
    """Everything a run produced: counts, intervals, health, and what it cost."""

    source: str
    fps: float
    stride: int
    frames_read: int
    frames_processed: int
    wall_s: float
    events: tuple[CountEvent, ...]
    intervals: tuple[IntervalCounts, ...]
    health: HealthReport
    truncated: bool = False
    zone_totals: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ms_per_frame(self) -> float:
        """Wall time per source frame (decode of every frame, detection of every ``stride``-th)."""
        return 1000.0 * self.wall_s / max(1, self.frames_read)

    @property
    def realtime_factor(self) -> float:
        """Stream seconds processed per wall second (>= 1: keeps up with the camera)."""
        return (self.frames_read / self.fps) / self.wall_s if self.wall_s > 0 else float("inf")

    def line_totals(self, camera: CameraConfig) -> list[LineTotal]:
        out = []
        for line in camera.lines:
            evs = [e for e in self.events if e.counter == line.name]
            by_class: dict[str, dict[str, int]] = {}
            for e in evs:
                by_class.setdefault(e.vehicle_class, {"in": 0, "out": 0})[str(e.direction)] += 1
            out.append(LineTotal(line.name, sum(e.direction is Direction.IN for e in evs),
                                 sum(e.direction is Direction.OUT for e in evs), by_class))
        return out


def build_counters(camera: CameraConfig) -> list[Counter]:
    """One ``LineCounter`` per line and one ``ZoneCounter`` per zone."""
    return [*(LineCounter(line) for line in camera.lines), *(ZoneCounter(zone) for zone in camera.zones)]


class CountingPipeline:
    """Runs one camera: detector and tracker in, count events, interval counts and health out.

    Nothing but counts, tracks' boxes and class labels leaves it; frames are written only to an
    ``AnnotatedVideoWriter`` the caller passes in.
    """

    def __init__(self, camera: CameraConfig, detector: Detector, settings: PipelineSettings | None = None,
                 health: HealthMonitor | None = None) -> None:
        self.camera = camera
        self.settings = settings or PipelineSettings()
        self.detector = RegionDetector(detector, camera, self.settings.region_margin_frac) \
            if self.settings.crop_to_region else detector
        self.health = health or HealthMonitor()

    def run(self, source: FrameSource, on_frame: Callable[[int], None] | None = None,
            annotate: AnnotatedVideoWriter | None = None, should_stop: Callable[[], bool] | None = None,
            on_interval: Callable[[IntervalCounts], None] | None = None) -> CountRun:
        """Process the source to its end (or ``settings.max_frames``, or until ``should_stop()``).

        Args:
            on_frame: called with the number of source frames read so far, after each processed frame.
            annotate: writer for an annotated copy of the processed frames (only frames ever stored).
            should_stop: polled after each batch; True ends the run cleanly (a live stream has no end).
            on_interval: called with each ``IntervalCounts`` as soon as it is complete (live use);
                all of them are also in the returned ``CountRun``.
        """
        s = self.settings
        tracker = VehicleTracker(s.tracker, source.fps / s.stride, s.track_buffer_s)
        run = _Run(build_counters(self.camera), ClassSettler(tracker.votes, s.class_settle_s),
                   self._aggregator(s), on_interval)
        t0 = time.perf_counter()
        for batch in _batches(source.frames(s.stride), self.detector.max_batch, s.max_frames):
            if isinstance(batch, StreamLost):
                self.health.mark_lost(batch.timestamp_s)
                continue
            for frame, detections in zip(batch, self.detector.detect([f.image for f in batch]), strict=True):
                tracks = tracker.update(detections, frame.image, frame.timestamp_s)
                run.step(frame, tracks, self.health.update(frame.image, frame.timestamp_s, tracks.confidence))
                if annotate is not None:
                    annotate.write(draw_overlay(frame.image, tracks, self.camera, _running_totals(run.raw)))
                if on_frame is not None:
                    on_frame(frame.index + 1)
            if should_stop is not None and should_stop():
                break
        wall_s = time.perf_counter() - t0
        frames_read = int(getattr(source, "frames_read", 0)) or run.processed * s.stride
        events = run.finish(max(run.last_s + s.stride / source.fps, frames_read / source.fps))
        zone_totals = {c.name: _tally(e for e in events if e.counter == c.name)
                       for c in run.counters if isinstance(c, ZoneCounter)}
        return CountRun(source.name, source.fps, s.stride, frames_read, run.processed, wall_s, events,
                        tuple(run.intervals), self.health.report(), bool(getattr(source, "truncated", False)),
                        zone_totals)

    def _aggregator(self, s: PipelineSettings) -> IntervalAggregator | None:
        if s.interval_s is None:
            return None
        cam = self.camera
        keys = [k for ln in cam.lines for k in (ln.in_key, ln.out_key) if k] + [z.key for z in cam.zones if z.key]
        return IntervalAggregator(cam.camera_id, s.interval_s, keys, cam.intersection, lag_s=s.class_settle_s)


def count_tracks(camera: CameraConfig, settings: PipelineSettings, fps: float,
                 frames: Iterable[tuple[Frame, Detections, Health]], end_s: float) -> tuple[CountEvent, ...]:
    """Track and count already-detected frames (``(frame, detections, health)``, every ``stride``-th frame).

    The tracking and counting half of ``CountingPipeline.run``, for recorded detections
    (``detection.replay``); the frames' images are passed to the tracker only.
    """
    tracker = VehicleTracker(settings.tracker, fps / settings.stride, settings.track_buffer_s)
    run = _Run(build_counters(camera), ClassSettler(tracker.votes, settings.class_settle_s), None, None)
    for frame, detections, health in frames:
        run.step(frame, tracker.update(detections, frame.image, frame.timestamp_s), health)
    return run.finish(end_s)


class ClassSettler:
    """Holds count events for ``settle_s`` of stream time, then gives them their track's majority class.

    A vehicle is often first seen far away and mis-classified (a motorbike as a car); the votes of
    the frames after the crossing fix that, at the cost of reporting each count ``settle_s`` later.
    """

    def __init__(self, votes: ClassVotes, settle_s: float) -> None:
        self.votes, self.settle_s = votes, settle_s
        self.pending: list[CountEvent] = []
        self.done: list[CountEvent] = []

    def add(self, events: list[CountEvent]) -> None:
        self.pending += events

    def settle(self, event: CountEvent) -> CountEvent:
        cls = self.votes.majority_of(event.track_id)
        return event if cls is None else replace(event, vehicle_class=VEHICLE_CLASSES[cls])

    def ready(self, now_s: float) -> list[CountEvent]:
        """Events whose settling time has passed, with their settled class (also kept in ``done``)."""
        due = [e for e in self.pending if now_s - e.timestamp_s >= self.settle_s]
        if not due:
            return []
        self.pending = [e for e in self.pending if now_s - e.timestamp_s < self.settle_s]
        settled = [self.settle(e) for e in due]
        self.done += settled
        return settled


class _Run:
    """The state of one run after detection and tracking: counting, class settling, intervals."""

    def __init__(self, counters: list[Counter], settler: ClassSettler, agg: IntervalAggregator | None,
                 on_interval: Callable[[IntervalCounts], None] | None) -> None:
        self.counters, self.settler, self.agg, self.on_interval = counters, settler, agg, on_interval
        self.raw: list[CountEvent] = []  # as counted, before class settling (for the overlay)
        self.intervals: list[IntervalCounts] = []
        self.processed, self.last_s = 0, 0.0

    def step(self, frame: Frame, tracks: Detections, health: Health) -> None:
        t = frame.timestamp_s
        h, w = frame.image.shape[:2]
        if self.processed == 0 and w > 1 and h > 1:  # line counters ignore boxes cut by the frame's edge
            for c in self.counters:
                if isinstance(c, LineCounter):
                    c.frame_size_px = (w, h)
        new = [e for c in self.counters for e in c.update(tracks, frame.index, t)]
        self.raw += new
        self.settler.add(new)
        settled = self.settler.ready(t)
        if self.agg is not None:
            self.agg.add_health(t, health)
            for e in settled:
                self.agg.add_event(e)
            for c in self.counters:
                if isinstance(c, ZoneCounter) and c.zone.key:
                    self.agg.set_queue(t, c.zone.key, c.occupancy)
            self._emit(self.agg.advance(t))
        self.processed += 1
        self.last_s = t

    def finish(self, end_s: float) -> tuple[CountEvent, ...]:
        """Settle what is pending, close the intervals up to ``end_s``; all events in frame order."""
        pending = [self.settler.settle(e) for e in self.settler.pending]
        if self.agg is not None:
            for e in pending:
                self.agg.add_event(e)
            self._emit(self.agg.flush(end_s))
        return tuple(sorted(self.settler.done + pending, key=lambda e: (e.frame_index, e.counter, e.track_id)))

    def _emit(self, intervals: list[IntervalCounts]) -> None:
        self.intervals += intervals
        if self.on_interval is not None:
            for iv in intervals:
                self.on_interval(iv)


def _batches(frames: Iterator[Frame | StreamLost], size: int,
             max_frames: int | None) -> Iterator[list[Frame] | StreamLost]:
    """Groups consecutive frames into lists of up to ``size``; a ``StreamLost`` flushes and passes through."""
    batch: list[Frame] = []
    for item in frames:
        if isinstance(item, StreamLost):
            if batch:
                yield batch
                batch = []
            yield item
            continue
        if max_frames is not None and item.index >= max_frames:
            break
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _running_totals(events: list[CountEvent]) -> dict[str, tuple[int, int]]:
    totals: dict[str, list[int]] = {}
    for e in events:
        t = totals.setdefault(e.counter, [0, 0])
        t[0 if e.direction is not Direction.OUT else 1] += 1
    return {k: (v[0], v[1]) for k, v in totals.items()}


def _tally(events: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:  # type: ignore[attr-defined]
        out[e.vehicle_class] = out.get(e.vehicle_class, 0) + 1
    return out


def auto_stride(source: FrameSource, detector: Detector, camera: CameraConfig) -> int:
    """The stride ``auto_stride_choice`` picks (see there)."""
    return auto_stride_choice(source, detector, camera).stride


def auto_stride_choice(source: FrameSource, detector: Detector, camera: CameraConfig,
                       region_margin_frac: float = 0.3) -> StrideChoice:
    """The stride ``decide_stride`` picks from costs measured here on the source's first frames, and why.

    A live stream is not read ahead (that would drop its frames): its decode cost is taken as 10 %
    of a frame period.
    """
    if isinstance(source, VideoFileSource):
        decode_ms, detect_ms = measure_costs_ms(str(source.path), RegionDetector(detector, camera, region_margin_frac))
    else:
        decode_ms, detect_ms = 100.0 / source.fps, _detect_ms_blank(detector)
    return decide_stride(source.fps, detect_ms, decode_ms)


def _detect_ms_blank(detector: Detector) -> float:
    image = np.full((480, 640, 3), 114, np.uint8)
    times = []
    for _ in range(4):
        t = time.perf_counter()
        detector.detect([image])
        times.append(1000 * (time.perf_counter() - t))
    return float(np.median(times[1:]))


def measure_costs_ms(source_path: str, detector: Detector, n_frames: int = 20) -> tuple[float, float]:
    """Median decode (grab) time per frame and detection time per frame, on a file's first frames."""
    import cv2

    cap = cv2.VideoCapture(source_path)
    grab_ms: list[float] = []
    image: NDArray[np.uint8] | None = None
    try:
        for _ in range(n_frames):
            t = time.perf_counter()
            if not cap.grab():
                break
            grab_ms.append(1000 * (time.perf_counter() - t))
            if image is None:
                _, frame = cap.retrieve()
                image = cast("NDArray[np.uint8]", frame)  # a decoded video frame is 8-bit BGR
    finally:
        cap.release()
    detect_ms = []
    if image is not None:
        for _ in range(4):
            t = time.perf_counter()
            detector.detect([image])
            detect_ms.append(1000 * (time.perf_counter() - t))
    return float(np.median(grab_ms)) if grab_ms else 0.0, float(np.median(detect_ms[1:])) if detect_ms else 0.0
