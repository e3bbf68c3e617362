"""Crossing events matched one to one by time and position: precision, recall, the manual count's format."""

from __future__ import annotations

import pytest

from detection.event_matching import CrossingEvent, match_events, read_manual_ground_truth
from tests.detection.conftest import REAL

pytest.importorskip("lap", reason="the assignment solver comes with the 'detect' extra")


def ev(t, x, direction="in", cls="car"):
    return CrossingEvent(t, x, direction, cls)


def test_each_event_matches_at_most_one_and_the_assignment_is_global():
    """Greedy nearest matching would pair the found 1.05 s event with the 1.0 s truth and leave 1.2 s unmatched;
    the one-to-one assignment matches both."""
    truth = [ev(1.0, 100), ev(1.2, 100)]
    found = [ev(0.85, 100), ev(1.05, 100)]
    m = match_events(truth, found, tolerance_s=0.2, tolerance_px=20)
    assert m.pairs == ((0, 0), (1, 1)) and m.precision == m.recall == 1.0


@pytest.mark.parametrize(("rule", "found", "pairs"), [
    ("too late", [ev(1.31, 100)], ()),
    ("too far along the line", [ev(1.0, 125)], ()),
    ("the other direction never matches", [ev(1.0, 100, "out")], ()),
    ("the class may differ (scored separately)", [ev(1.0, 100, cls="motorcycle")], ((0, 0),)),
    ("within both tolerances", [ev(1.29, 119)], ((0, 0),)),
])
def test_tolerances(rule, found, pairs):
    assert match_events([ev(1.0, 100)], found, tolerance_s=0.3, tolerance_px=20).pairs == pairs, rule


def test_precision_recall_missed_and_extra():
    truth = [ev(1.0, 100), ev(2.0, 100), ev(3.0, 100), ev(4.0, 100)]
    found = [ev(1.0, 100), ev(2.1, 105), ev(9.0, 100)]
    m = match_events(truth, found, tolerance_s=0.3, tolerance_px=20)
    assert (m.precision, m.recall) == (pytest.approx(2 / 3), 0.5)
    assert m.missed() == [2, 3] and m.extra() == [2]
    assert match_events([], [], 0.3, 20).precision == 1.0


def test_reads_the_motorbike_clips_manual_count():
    path = REAL / "asia_arterial_motorbikes_1024x576_20s.manual_gt.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    truth = read_manual_ground_truth(path, fps=25.0)
    assert len(truth) == 45 and {e.direction for e in truth} == {"in"}
    assert sum(e.vehicle_class == "car" for e in truth) == 23
    assert sum(e.vehicle_class == "motorcycle" for e in truth) == 22
    assert (truth[0].time_s, truth[0].x_px) == (12 / 25, 605.0)
