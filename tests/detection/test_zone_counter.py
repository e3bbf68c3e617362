"""Zones: a track counts once after dwelling min_frames inside; occupancy is the queue."""

from __future__ import annotations

import numpy as np

from detection.config import CountZone
from detection.counting import Direction
from detection.detections import Detections
from detection.zone_counter import ZoneCounter, points_in_polygon
from tests.detection.conftest import track_at

SQUARE = ((100.0, 100.0), (200.0, 100.0), (200.0, 200.0), (100.0, 200.0))


def test_points_in_polygon():
    inside = points_in_polygon(np.array([[150, 150], [50, 150], [250, 250], [199, 101]]), SQUARE)
    assert inside.tolist() == [True, False, False, True]


def test_counts_once_after_min_frames_and_reports_occupancy():
    counter = ZoneCounter(CountZone("box", SQUARE, key="N_left", min_frames=2))
    assert counter.update(track_at(1, 50, 150), 0, 0.0) == []
    assert counter.update(track_at(1, 150, 150), 1, 0.1) == []  # one frame inside: not yet
    assert counter.occupancy == 1
    (event,) = counter.update(track_at(1, 160, 150), 2, 0.2)
    assert (event.direction, event.key, event.track_id) == (Direction.ENTER, "N_left", 1)
    for i in range(3, 10):
        assert counter.update(track_at(1, 160, 150), i, i / 10) == []
    two = Detections.concatenate([track_at(1, 160, 150), track_at(2, 120, 120)])
    counter.update(two, 10, 1.0)
    assert counter.occupancy == 2


def test_a_track_that_only_passes_briefly_is_not_counted_with_min_frames_3():
    counter = ZoneCounter(CountZone("box", SQUARE, min_frames=3))
    path = [(50, 150), (150, 150), (150, 150), (250, 150)]
    assert [e for i, (x, y) in enumerate(path) for e in counter.update(track_at(1, x, y), i, i)] == []
