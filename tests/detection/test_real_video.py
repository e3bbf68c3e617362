"""The real detector on real video: the freeway ground truth event by event, motorbikes with slicing."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from detection.config import CameraConfig, make_line
from detection.counting import Direction
from tests.detection.conftest import ASIA, FREEWAY, MODEL

TOLERANCE_FRAMES = 15  # the rule; the manual windows themselves are +-5 frames


def ground_truth(real):
    """The manual crossings' frame windows ``(first, last)``."""
    with (real / "freeway_overpass_1280x720_15s.manual_gt.csv").open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return [tuple(int(v) for v in r["cross_frame_window"].split("-")) for r in rows]


@pytest.fixture(scope="module")
def detector():
    from detection.detector import YoloDetector

    return YoloDetector(MODEL)


@pytest.mark.slow
@pytest.mark.parametrize("stride", [1, 2, 3, 4])  # 4: the largest auto stride at 30 fps
def test_freeway_ground_truth_event_by_event(real, detector, stride):
    from scipy.optimize import linear_sum_assignment

    from detection.pipeline import CountingPipeline, PipelineSettings
    from detection.sources import VideoFileSource

    camera = CameraConfig("freeway", (make_line("south", (250, 450), (850, 450)),))
    result = CountingPipeline(camera, detector, PipelineSettings(stride=stride)).run(VideoFileSource(FREEWAY))
    (total,) = result.line_totals(camera)
    assert (total.in_count, total.out_count) == (24, 0)
    windows = ground_truth(real)
    assert len(windows) == 24
    frames = [e.frame_index for e in result.events if e.direction is Direction.IN]
    # distance of each event to each manual window; match one to one, each within the tolerance
    cost = np.array([[max(0, a - f, f - b) for (a, b) in windows] for f in frames], float)
    rows, cols = linear_sum_assignment(cost)
    worst = cost[rows, cols].max()
    assert len(rows) == 24 and worst <= TOLERANCE_FRAMES, f"an event is {worst} frames from its crossing"
    assert "motorcycle" in total.by_class, "the motorcycle (manual #12) is counted as a motorcycle"


@pytest.mark.slow
def test_sliced_mode_finds_the_motorbikes_plain_inference_misses(real, detector):
    import cv2

    from detection.slicing import SlicedDetector

    cap = cv2.VideoCapture(str(ASIA))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 250)
    ok, frame = cap.read()
    cap.release()
    assert ok
    motorcycle = 1  # index in VEHICLE_CLASSES
    plain = detector.detect([frame])[0]
    sliced = SlicedDetector(detector, tile_px=320).detect([frame])[0]
    n_plain = int(np.sum((plain.class_index == motorcycle) & (plain.confidence >= 0.25)))
    n_sliced = int(np.sum((sliced.class_index == motorcycle) & (sliced.confidence >= 0.25)))
    assert n_plain <= 2, "the known miss of whole-frame inference (1 motorcycle)"
    assert n_sliced >= 5, f"sliced inference found {n_sliced} motorcycles (>= 6 visible)"
