"""Counts must not depend on the processing rate: the same detections at strides 1..4 give the same events.

Synthetic detections of small, fast vehicles (up to 7 of their own box diagonals per second: a
16-px motorbike moving 5 px per source frame, whose boxes at stride 4 no longer overlap), with missed
detections, are recorded once and replayed at every stride,
exactly as a real clip's recorded detector output is (``detection.replay``).
"""

from __future__ import annotations

import numpy as np
import pytest

from detection.config import CameraConfig, make_line
from detection.counting import Direction
from detection.detections import Detections
from detection.event_matching import CrossingEvent, match_events
from detection.replay import RecordedClip, replay_counts

pytest.importorskip("lap", reason="the assignment solver comes with the 'detect' extra")

FPS = 30.0
LINE = make_line("stop", (0, 300), (1000, 300))
CAMERA = CameraConfig("synthetic", (LINE,))


def vehicle_paths(seed: int = 0, n_vehicles: int = 24, n_frames: int = 300) -> list[dict]:
    """Vehicles entering at staggered times, moving down (IN) or up (OUT) at 2-7 box diagonals per second."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_vehicles):
        down = k % 5 != 4
        half = rng.choice([8.0, 10.0, 22.0])  # motorbikes and cars
        speed = rng.uniform(2.0, 7.0) * 2 * np.sqrt(2) * half / FPS  # px per source frame, 2.1 to 14.7
        lane_x = 60.0 + 70.0 * (k % 13)
        start = int(rng.integers(0, n_frames - 160))  # every vehicle crosses before the clip ends
        out.append({"x": lane_x, "y0": 80.0 if down else 520.0, "v": speed if down else -speed, "half": half,
                    "start": start, "cls": 3 if half < 15 else 0,
                    "missed": set(rng.choice(np.arange(start, start + 60), 6, replace=False).tolist())})
    return out


def synthetic_clip(paths: list[dict], n_frames: int = 300, jitter_px: float = 1.0, seed: int = 1) -> RecordedClip:
    rng = np.random.default_rng(seed)
    dets = []
    for f in range(n_frames):
        boxes, conf, cls = [], [], []
        for p in paths:
            t = f - p["start"]
            y = p["y0"] + p["v"] * t
            if t < 0 or not 40 <= y <= 560 or f in p["missed"]:
                continue
            x = p["x"] + rng.normal(0, jitter_px)
            y += rng.normal(0, jitter_px)
            h = p["half"]
            boxes.append([x - h, y - h, x + h, y + h])
            conf.append(0.6)
            cls.append(p["cls"])
        dets.append(Detections.from_arrays(np.array(boxes, np.float32).reshape(-1, 4), conf, cls))
    return RecordedClip(FPS, np.arange(n_frames) / FPS, tuple(dets))


def crossing_events(clip: RecordedClip, stride: int, tracker: str = "motion") -> list[CrossingEvent]:
    return [CrossingEvent(e.crossing_s or e.timestamp_s, (e.crossing_px or (0.0, 0.0))[0], str(e.direction),
                          e.vehicle_class) for e in replay_counts(clip, CAMERA, stride, tracker=tracker)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_are_the_same_event_by_event_at_strides_1_to_4(seed):
    paths = vehicle_paths(seed)
    clip = synthetic_clip(paths, seed=seed + 10)
    truth_in = sum(p["v"] > 0 for p in paths)
    base = crossing_events(clip, 1)
    assert sum(e.direction == Direction.IN for e in base) == truth_in
    assert sum(e.direction == Direction.OUT for e in base) == len(paths) - truth_in
    for stride in (2, 3, 4):
        events = crossing_events(clip, stride)
        m = match_events(base, events, tolerance_s=0.1, tolerance_px=10.0)
        assert len(m.pairs) == len(base) == len(events), (stride, m.missed(), m.extra())
        assert [base[a].vehicle_class for a, _ in m.pairs] == [events[b].vehicle_class for _, b in m.pairs]


def test_crossing_time_is_interpolated_on_the_path_not_the_frame_that_saw_it():
    """A vehicle crossing y=300 at frame 45 (exactly): the event's crossing time is 1.5 s at every stride."""
    paths = [{"x": 500.0, "y0": 75.0, "v": 5.0, "half": 10.0, "start": 0, "cls": 3, "missed": set()}]
    clip = synthetic_clip(paths, n_frames=120, jitter_px=0.0)
    for stride in (1, 2, 3, 4, 7):
        (event,) = replay_counts(clip, CAMERA, stride)
        assert event.crossing_s == pytest.approx(45 / FPS, abs=1e-4)
        assert event.crossing_px == pytest.approx((500.0, 300.0), abs=1e-3)
        assert event.frame_index >= 45 and event.frame_index % stride == 0


@pytest.mark.slow
def test_real_motorway_clip_counts_the_same_events_at_strides_1_to_4(real):
    """The shared motorway CCTV clip (25 fps, 21 crossings both ways): the detector runs once per frame, tracking
    and counting replay at every stride the automatic choice may take (stride 3 at 25 fps is 8.3 frames/s)."""
    from detection.detector import YoloDetector
    from detection.region import RegionDetector
    from detection.replay import record_clip
    from tests.detection.conftest import MODEL, MOTORWAY

    camera = CameraConfig("motorway", (make_line("line", (0, 120), (320, 120)),))
    clip = record_clip(MOTORWAY, RegionDetector(YoloDetector(MODEL), camera))
    runs = {s: [CrossingEvent(e.crossing_s or 0.0, (e.crossing_px or (0.0, 0.0))[0], str(e.direction),
                              e.vehicle_class) for e in replay_counts(clip, camera, s)] for s in (1, 2, 3, 4)}
    assert len(runs[1]) >= 20
    for stride in (2, 3, 4):
        m = match_events(runs[1], runs[stride], tolerance_s=0.25, tolerance_px=30.0)
        assert len(m.pairs) == len(runs[1]) == len(runs[stride]), (stride, m.missed(), m.extra())
