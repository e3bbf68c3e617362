"""Per-frame box agreement of two detectors, and the recording wrapper the comparisons use."""

from __future__ import annotations

import numpy as np
import pytest

from detection.detections import Detections
from detection.model_agreement import RecordingDetector, agreement, box_agreement, iou_matrix


def boxes(rows, conf=None, cls=None) -> Detections:
    n = len(rows)
    return Detections.from_arrays(rows, conf if conf is not None else [0.9] * n, cls if cls is not None else [0] * n)


def test_iou_matrix_by_hand():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])


@pytest.mark.parametrize(("a", "b", "expected", "rule"), [
    (boxes([[0, 0, 10, 10]]), boxes([[1, 0, 11, 10]]), (1, 1, 1), "IoU 0.82 >= 0.5: a match"),
    (boxes([[0, 0, 10, 10]]), boxes([[5, 0, 15, 10]]), (0, 1, 1), "IoU 0.33 < 0.5: no match"),
    (boxes([[0, 0, 10, 10]], cls=[0]), boxes([[0, 0, 10, 10]], cls=[2]), (0, 1, 1), "another class is no match"),
    (boxes([[0, 0, 10, 10]], conf=[0.2]), boxes([[0, 0, 10, 10]]), (0, 0, 1), "below the confidence cut: ignored"),
    (boxes([[0, 0, 10, 10], [0, 0, 10, 11]]), boxes([[0, 0, 10, 10]]), (1, 2, 1), "one to one: a box pairs once"),
    (Detections.empty(), boxes([[0, 0, 10, 10]]), (0, 0, 1), "nothing found on one side"),
])
def test_box_agreement_rules(a, b, expected, rule):
    assert box_agreement(a, b) == expected, rule


def test_greedy_pairs_the_best_overlaps_first():
    a = boxes([[0, 0, 10, 10], [2, 0, 12, 10]])
    b = boxes([[2, 0, 12, 10], [0, 0, 10, 10]])
    assert box_agreement(a, b, iou_min=0.9) == (2, 2, 2)


def test_agreement_sums_over_frames_and_refuses_unequal_lengths():
    a = [boxes([[0, 0, 10, 10]]), boxes([[0, 0, 10, 10], [20, 20, 30, 30]])]
    b = [boxes([[0, 0, 10, 10]]), boxes([[20, 20, 30, 30]])]
    r = agreement(a, b)
    assert (r.frames, r.matched, r.boxes_a, r.boxes_b) == (2, 2, 3, 2)
    assert r.of_a == pytest.approx(2 / 3) and r.of_b == 1.0
    with pytest.raises(ValueError, match="frame by frame"):
        agreement(a, b[:1])


def test_recording_detector_keeps_every_output_in_order():
    class Fake:
        max_batch = 2

        def detect(self, images):
            return [boxes([[0, 0, float(img[0, 0, 0]) + 1, 1]]) for img in images]

    rec = RecordingDetector(Fake())
    images = [np.full((4, 4, 3), v, np.uint8) for v in (3, 7, 9)]
    rec.detect(images[:2])
    rec.detect(images[2:])
    assert rec.max_batch == 2 and rec.calls == 2
    assert [float(d.xyxy_px[0, 2]) for d in rec.outputs] == [4.0, 8.0, 10.0]
