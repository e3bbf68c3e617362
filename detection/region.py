"""Detect only where counting happens: a crop around the camera's lines and zones.

Fixed-size models (a 640x640 TFLite export) shrink a 1280x720 frame by 2; cropping to the region
that matters before that shrink keeps small vehicles (motorbikes) large enough to detect, at no
extra cost, and nothing outside the region is ever looked at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from detection.config import CameraConfig
from detection.detections import Detections
from detection.detector import Detector

Region = tuple[int, int, int, int]


def auto_region(camera: CameraConfig, frame_size_px: tuple[int, int], margin_frac: float = 0.3) -> Region:
    """Bounding box of every line and zone, grown by ``margin_frac`` of the frame height, inside the frame.

    The margin lets the tracker see a vehicle for a while before it reaches a line.
    """
    w, h = frame_size_px
    if camera.detect_region_px is not None:
        x1, y1, x2, y2 = camera.detect_region_px
    else:
        pts = [p for ln in camera.lines for p in (ln.start_px, ln.end_px)] + \
              [p for z in camera.zones for p in z.polygon_px]
        m = margin_frac * h
        x1, y1 = min(p[0] for p in pts) - m, min(p[1] for p in pts) - m
        x2, y2 = max(p[0] for p in pts) + m, max(p[1] for p in pts) + m
    box = (max(0, math.floor(x1)), max(0, math.floor(y1)), min(w, math.ceil(x2)), min(h, math.ceil(y2)))
    if box[2] - box[0] < 32 or box[3] - box[1] < 32:
        return (0, 0, w, h)
    return box


class RegionDetector:
    """Runs ``base`` on the camera's detection region only and returns boxes in frame coordinates."""

    def __init__(self, base: Detector, camera: CameraConfig, margin_frac: float = 0.3) -> None:
        self.base, self.camera, self.margin_frac = base, camera, margin_frac
        self.max_batch = base.max_batch
        self.region: Region | None = None

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        if not images:
            return []
        h, w = images[0].shape[:2]
        self.region = x1, y1, x2, y2 = auto_region(self.camera, (w, h), self.margin_frac)
        crops = [img[y1:y2, x1:x2] for img in images]
        shift = np.array([x1, y1, x1, y1], np.float32)
        return [Detections(d.xyxy_px + shift, d.confidence, d.class_index, d.track_id) for d in self.base.detect(crops)]
