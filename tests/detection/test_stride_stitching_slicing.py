"""Automatic stride, track stitching and tile geometry: the pure-numpy parts of speed and recall."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from detection.detections import Detections, drop_parts, nms_xyxy
from detection.slicing import SlicedDetector, tile_origins
from detection.stitching import TrackStitcher
from detection.stride import choose_stride


@pytest.mark.parametrize(("rule", "kwargs", "expected"), [
    ("fast detector: every frame", dict(fps=25, detect_ms=10, decode_ms=2), 1),
    ("34 ms detector at 30 fps needs every 2nd frame", dict(fps=30, detect_ms=34, decode_ms=4), 2),
    ("60 ms detector at 30 fps needs every 3rd frame", dict(fps=30, detect_ms=60, decode_ms=4), 3),
    ("never below 7 processed frames per second", dict(fps=30, detect_ms=900, decode_ms=4), 4),
    ("decoding alone too slow: the largest stride", dict(fps=30, detect_ms=30, decode_ms=40), 4),
    ("15 fps, 60 ms: every 2nd frame", dict(fps=15, detect_ms=60, decode_ms=1), 2),
    ("15 fps, 200 ms: still every 2nd frame (7.5 processed frames/s)", dict(fps=15, detect_ms=200, decode_ms=1), 2),
])
def test_choose_stride(rule, kwargs, expected):
    assert choose_stride(**kwargs) == expected, rule


def box(x, y, h=20.0):
    return [x - h / 2, y - h / 2, x + h / 2, y + h / 2]


def test_stitcher_joins_a_track_reborn_where_the_lost_one_was_heading():
    st = TrackStitcher(max_gap_frames=10)
    for i in range(4):  # id 5 moves down 10 px per frame
        assert st.relabel(np.array([5]), np.array([box(100, 100 + 10 * i)], np.float32), np.array([1])).tolist() == [5]
    st.relabel(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))  # lost for a frame
    ids = st.relabel(np.array([9]), np.array([box(102, 152)], np.float32), np.array([1]))
    assert ids.tolist() == [5] and st.joins == 1
    assert st.relabel(np.array([9]), np.array([box(102, 162)], np.float32), np.array([1])).tolist() == [5]


@pytest.mark.parametrize(("rule", "new_center", "new_class"), [
    ("another class is another vehicle", (100, 150), 2),
    ("too far from the prediction", (100, 300), 1),
])
def test_stitcher_keeps_distinct_tracks_apart(rule, new_center, new_class):
    st = TrackStitcher(max_gap_frames=10)
    for i in range(4):
        st.relabel(np.array([5]), np.array([box(100, 100 + 10 * i)], np.float32), np.array([1]))
    ids = st.relabel(np.array([9]), np.array([box(*new_center)], np.float32), np.array([new_class]))
    assert ids.tolist() == [9], rule


def test_stitcher_never_joins_to_a_track_still_visible():
    st = TrackStitcher(max_gap_frames=10)
    st.relabel(np.array([5]), np.array([box(100, 100)], np.float32), np.array([1]))
    ids = st.relabel(np.array([5, 9]), np.array([box(100, 100), box(105, 100)], np.float32), np.array([1, 1]))
    assert ids.tolist() == [5, 9]


def test_tile_origins_cover_with_overlap():
    starts = tile_origins(1024, 320, 0.2)
    assert starts[0] == 0 and starts[-1] == 1024 - 320
    assert all(b - a <= 320 * 0.8 + 1 for a, b in itertools.pairwise(starts))
    assert tile_origins(300, 320, 0.2) == [0]


def test_nms_and_drop_parts():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert sorted(nms_xyxy(boxes, np.array([0.9, 0.8, 0.7], np.float32), 0.5).tolist()) == [0, 2]
    det = Detections.from_arrays([[0, 0, 40, 40], [5, 5, 20, 20], [5, 5, 20, 20]], [0.9, 0.5, 0.6], [3, 3, 1])
    kept = drop_parts(det)
    assert sorted(kept.confidence.tolist()) == pytest.approx([0.6, 0.9]), "a part of the same class goes"


class _ShiftRecorder:
    """A fake detector that finds one box in the top-left corner of every image it is given."""

    max_batch = 4

    def __init__(self):
        self.shapes = []

    def detect(self, images):
        self.shapes += [img.shape[:2] for img in images]
        return [Detections.from_arrays([[2, 2, 12, 12]], [0.8], [3]) for _ in images]


def test_sliced_detector_maps_tile_boxes_to_frame_coordinates():
    base = _ShiftRecorder()
    sliced = SlicedDetector(base, tile_px=320, overlap=0.2, full_frame=True)
    (det,) = sliced.detect([np.zeros((576, 1024, 3), np.uint8)])
    tiles = sliced.tiles(1024, 576)
    assert len(base.shapes) == len(tiles) + 1 and base.shapes[-1] == (576, 1024)
    expected = sorted({(x + 2, y + 2) for x, y, _, _ in tiles})
    assert sorted({(int(b[0]), int(b[1])) for b in det.xyxy_px}) == expected
