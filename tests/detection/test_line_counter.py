"""Line crossing: direction from the line's orientation, one count per track, jitter and touches ignored."""

from __future__ import annotations

import numpy as np
import pytest

from detection.config import make_line
from detection.counting import Direction
from detection.detections import Detections
from detection.line_counter import LineCounter, crossing_fraction, cut_across_line, path_crossing, signed_distance_px
from tests.detection.conftest import track_at


def run_path(line, path, track_id=1):
    """Feed a track along ``path`` (list of (x, y)); return the events."""
    counter = LineCounter(line)
    events = []
    for i, (x, y) in enumerate(path):
        events += counter.update(track_at(track_id, x, y), i, i / 10)
    return events


H_LINE = make_line("h", (100, 100), (300, 100))  # left to right
DOWN = [(200, y) for y in range(60, 141, 10)]
UP = DOWN[::-1]


@pytest.mark.parametrize(("rule", "line", "path", "expected"), [
    ("L->R horizontal line: downward motion is IN", H_LINE, DOWN, [Direction.IN]),
    ("L->R horizontal line: upward motion is OUT", H_LINE, UP, [Direction.OUT]),
    ("R->L horizontal line: downward motion is OUT", make_line("r", (300, 100), (100, 100)), DOWN, [Direction.OUT]),
    ("top->bottom vertical line: its right is image-left, so right-to-left motion is IN",
     make_line("v", (200, 50), (200, 150)), [(x, 100) for x in range(260, 139, -20)], [Direction.IN]),
    ("top->bottom vertical line: left-to-right motion is OUT",
     make_line("v", (200, 50), (200, 150)), [(x, 100) for x in range(140, 261, 20)], [Direction.OUT]),
    ("bottom->top vertical line: left-to-right motion is IN",
     make_line("v", (200, 150), (200, 50)), [(x, 100) for x in range(140, 261, 20)], [Direction.IN]),
    ("crossing beyond the segment's end is not a crossing", H_LINE, [(350, y) for y in range(60, 141, 10)], []),
    ("a track that touches the line and turns back is not counted", H_LINE,
     [(200, 60), (200, 80), (200, 99), (200, 100), (200, 101), (200, 80), (200, 60)], []),
    ("jitter within the hysteresis band never counts", H_LINE,
     [(200, 80), *[(200, 100 + (1.5 if i % 2 else -1.5)) for i in range(20)], (200, 80)], []),
    ("jitter after a real crossing does not count again", H_LINE,
     [(200, 80), (200, 120), *[(200, 100 + (5 if i % 2 else -5)) for i in range(20)]], [Direction.IN]),
    ("crossing back counts nothing more: one count per track and line", H_LINE, DOWN + UP + DOWN, [Direction.IN]),
    ("a big jump across the line between two frames counts", H_LINE, [(200, 20), (200, 180)], [Direction.IN]),
    ("a track first seen below the line never crossed it", H_LINE, [(200, 120), (200, 160)], []),
])
def test_crossings(rule, line, path, expected):
    assert [e.direction for e in run_path(line, path)] == expected, rule


def test_event_carries_key_class_frame_and_time():
    line = make_line("north", (100, 100), (300, 100), in_key="N_through", out_key=None)
    counter = LineCounter(line)
    counter.update(track_at(7, 200, 80, class_index=1), 10, 1.0)
    (event,) = counter.update(track_at(7, 200, 120, class_index=1), 11, 1.1)
    assert (event.counter, event.key, event.track_id, event.vehicle_class, event.frame_index, event.timestamp_s) \
        == ("north", "N_through", 7, "motorcycle", 11, 1.1)
    counter.update(track_at(8, 200, 120), 12, 1.2)
    (out,) = counter.update(track_at(8, 200, 80), 13, 1.3)
    assert out.direction is Direction.OUT and out.key is None


def test_tracks_are_independent_and_untracked_boxes_ignored():
    counter = LineCounter(H_LINE)
    both = lambda y1, y2: Detections.concatenate([track_at(1, 150, y1), track_at(2, 250, y2),  # noqa: E731
                                                   track_at(-1, 200, y1)])
    counter.update(both(80, 120), 0, 0.0)
    events = counter.update(both(120, 80), 1, 0.1)
    assert sorted((e.track_id, e.direction) for e in events) == [(1, Direction.IN), (2, Direction.OUT)]


def test_signed_distance_and_crossing_fraction():
    d = signed_distance_px(np.array([[0.0, 10.0], [0.0, -5.0]]), (0, 0), (10, 0))
    assert d.tolist() == [10.0, -5.0]
    assert crossing_fraction(np.array([5.0, -1.0]), np.array([5.0, 1.0]), (0, 0), (10, 0)) == pytest.approx(0.5)
    assert crossing_fraction(np.array([15.0, -1.0]), np.array([15.0, 1.0]), (0, 0), (10, 0)) is None


def test_crossing_is_interpolated_on_the_path_from_the_last_position_on_one_side_to_the_first_on_the_other():
    """Positions inside the hysteresis band are skipped: the path runs from (200, 90) at 1.0 s to (260, 130) at
    1.4 s, and meets y=100 a quarter of the way along: at 1.1 s, x=215."""
    counter = LineCounter(H_LINE)
    counter.update(track_at(3, 200, 90), 10, 1.0)
    assert counter.update(track_at(3, 230, 101), 11, 1.2) == []  # inside the band: no side
    (event,) = counter.update(track_at(3, 260, 130), 12, 1.4)
    assert (event.frame_index, event.timestamp_s) == (12, 1.4)
    assert event.crossing_s == pytest.approx(1.1)
    assert event.crossing_px == pytest.approx((215.0, 100.0))


def test_path_crossing_time_and_place():
    at_s, at_px = path_crossing(np.array([0.0, -10.0]), 2.0, np.array([40.0, 30.0]), 3.0, (-100, 0), (100, 0))
    assert at_s == pytest.approx(2.25) and at_px == pytest.approx((10.0, 0.0))


@pytest.mark.parametrize(("rule", "box", "line_end", "cut"), [
    ("cut at the left edge: x centre wrong, harmless for a horizontal line", [0, 80, 30, 120], (300, 100), False),
    ("cut at the left edge: wrong for a vertical line", [0, 80, 30, 120], (100, 300), True),
    ("cut at the bottom edge: wrong for a horizontal line", [150, 200, 190, 240], (300, 100), True),
    ("a box inside the frame is never cut", [150, 80, 190, 120], (300, 100), False),
])
def test_boxes_cut_by_the_frame_edge_across_the_line(rule, box, line_end, cut):
    got = cut_across_line(np.array([box], np.float32), (320, 240), (100, 100), line_end)
    assert got.tolist() == [cut], rule


def test_a_box_cut_by_the_frame_edge_does_not_change_its_tracks_side():
    """A vehicle leaving the picture at the bottom while on the line: its cut box's centre jumps across."""
    line = make_line("low", (0, 220), (320, 220))
    counter = LineCounter(line, frame_size_px=(320, 240))
    counter.update(Detections.from_arrays([[100, 190, 140, 230]], [0.9], [0], [1]), 0, 0.0)  # centre 210: above
    assert counter.update(Detections.from_arrays([[100, 210, 140, 240]], [0.9], [0], [1]), 1, 0.1) == []
