"""Do two detectors count alike? Counts per line, direction and class, and per-frame box agreement.

Used to show that a converted model (``detection.convert``) is the same detector as its source:
both run through the project's ``CountingPipeline`` on the same clip and camera, and every box
they return is kept (``RecordingDetector``) and matched frame by frame (``box_agreement``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.config import CameraConfig
from detection.detections import Detections
from detection.detector import Detector


class RecordingDetector:
    """Passes images to ``base`` and keeps what it returns (one ``Detections`` per image) and its time."""

    def __init__(self, base: Detector) -> None:
        self.base, self.max_batch = base, base.max_batch
        self.outputs: list[Detections] = []
        self.detect_s = 0.0
        self.calls = 0

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        t0 = time.perf_counter()
        out = self.base.detect(images)
        self.detect_s += time.perf_counter() - t0
        self.calls += 1
        self.outputs += out
        return out


def iou_matrix(a_xyxy: NDArray[np.float32], b_xyxy: NDArray[np.float32]) -> NDArray[np.float64]:
    """``(len(a), len(b))`` intersection over union of two sets of ``x1, y1, x2, y2`` boxes."""
    a = a_xyxy.astype(np.float64)[:, None]
    b = b_xyxy.astype(np.float64)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def box_agreement(a: Detections, b: Detections, iou_min: float = 0.5,
                  confidence_min: float = 0.25) -> tuple[int, int, int]:
    """Boxes of ``a`` and ``b`` (confidence >= ``confidence_min``) paired one to one, same class, IoU >= ``iou_min``.

    Greedy by IoU, best pair first. Returns ``(matched, boxes in a, boxes in b)``.
    """
    a = a[a.confidence >= confidence_min]
    b = b[b.confidence >= confidence_min]
    if not len(a) or not len(b):
        return 0, len(a), len(b)
    iou = iou_matrix(a.xyxy_px, b.xyxy_px)
    iou[a.class_index[:, None] != b.class_index[None]] = 0.0
    matched, used_a, used_b = 0, set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(b))
        if iou[i, j] < iou_min:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched += 1
    return matched, len(a), len(b)


@dataclass(frozen=True)
class Agreement:
    """Per-frame agreement of two detectors' boxes, summed over frames.

    Attributes:
        frames: frames compared.
        matched: box pairs (same class, IoU >= ``iou_min``).
        boxes_a, boxes_b: boxes of each detector (confidence >= ``confidence_min``).
    """

    frames: int
    matched: int
    boxes_a: int
    boxes_b: int
    iou_min: float
    confidence_min: float

    @property
    def of_a(self) -> float:
        """Share of ``a``'s boxes that ``b`` also found."""
        return self.matched / self.boxes_a if self.boxes_a else 1.0

    @property
    def of_b(self) -> float:
        return self.matched / self.boxes_b if self.boxes_b else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "matched": self.matched, "boxes_a": self.boxes_a, "boxes_b": self.boxes_b,
                "matched_of_a": round(self.of_a, 4), "matched_of_b": round(self.of_b, 4),
                "iou_min": self.iou_min, "confidence_min": self.confidence_min}


def agreement(a: Sequence[Detections], b: Sequence[Detections], iou_min: float = 0.5,
              confidence_min: float = 0.25) -> Agreement:
    """``box_agreement`` frame by frame over two equally long sequences of detections."""
    if len(a) != len(b):
        raise ValueError(f"detections of {len(a)} and {len(b)} frames cannot be compared frame by frame")
    totals = np.array([box_agreement(x, y, iou_min, confidence_min) for x, y in zip(a, b, strict=True)],
                      np.int64).reshape(-1, 3).sum(axis=0)
    return Agreement(len(a), int(totals[0]), int(totals[1]), int(totals[2]), iou_min, confidence_min)


@dataclass(frozen=True)
class ClipCounts:
    """What one detector produced on a clip through ``CountingPipeline``: counts and every box."""

    counts: dict[str, dict[str, Any]]
    detections: list[Detections]
    frames: int
    wall_s: float
    detect_s: float


def count_clip(detector: Detector, video: str | Path, camera: CameraConfig, stride: int = 1,
               max_frames: int | None = None) -> ClipCounts:
    """Run the project's counting pipeline on ``video`` with ``detector``, keeping every box it returned.

    ``counts`` maps each line to ``{"in", "out", "by_class"}`` (the ``greenwave count --json`` shape).
    """
    from detection.pipeline import CountingPipeline, PipelineSettings
    from detection.sources import VideoFileSource

    recorder = RecordingDetector(detector)
    run = CountingPipeline(camera, recorder, PipelineSettings(stride=stride, max_frames=max_frames)) \
        .run(VideoFileSource(video))
    counts = {t.name: {"in": t.in_count, "out": t.out_count, "by_class": t.by_class} for t in run.line_totals(camera)}
    return ClipCounts(counts, recorder.outputs, run.frames_processed, run.wall_s, recorder.detect_s)
