"""Sliced (tiled) inference for small, dense vehicles such as motorbike swarms.

Each tile is enlarged to the model's input size, so a 320 px tile doubles the apparent size of a
small vehicle for a 640 px model. Boxes from all tiles (and the full frame, for large vehicles)
are merged by non-maximum suppression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from detection.detections import Detections, nms_xyxy
from detection.detector import Detector


def tile_origins(size_px: int, tile_px: int, overlap: float) -> list[int]:
    """Start offsets of tiles of ``tile_px`` covering ``[0, size_px)`` with at least ``overlap`` overlap."""
    if tile_px >= size_px:
        return [0]
    n = math.ceil((size_px - tile_px) / (tile_px * (1.0 - overlap))) + 1
    return [round(i * (size_px - tile_px) / (n - 1)) for i in range(n)]


class SlicedDetector:
    """Runs a detector on overlapping tiles (plus the whole frame) and merges the boxes.

    Args:
        base: the detector run on each tile.
        tile_px: tile side in pixels (smaller tiles find smaller vehicles and cost more).
        overlap: fraction of a tile shared with its neighbour, so a vehicle cut by one tile is whole
            in the next.
        full_frame: also run on the whole frame (finds vehicles larger than a tile).
        iou_threshold, ios_threshold: merging of duplicates across tiles (IoU, and intersection over
            the smaller box for a part of a vehicle found in a tile that cuts it).
    """

    def __init__(self, base: Detector, tile_px: int = 320, overlap: float = 0.2, full_frame: bool = True,
                 iou_threshold: float = 0.5, ios_threshold: float = 0.7) -> None:
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap (={overlap}) must be in [0, 1)")
        self.base, self.tile_px, self.overlap, self.full_frame = base, tile_px, overlap, full_frame
        self.iou_threshold, self.ios_threshold = iou_threshold, ios_threshold
        self.max_batch = 1

    def tiles(self, width_px: int, height_px: int) -> list[tuple[int, int, int, int]]:
        """Tile rectangles ``(x1, y1, x2, y2)`` for a frame of this size."""
        t = self.tile_px
        return [(x, y, min(x + t, width_px), min(y + t, height_px))
                for y in tile_origins(height_px, t, self.overlap) for x in tile_origins(width_px, t, self.overlap)]

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        return [self._detect_one(img) for img in images]

    def _detect_one(self, image: NDArray[np.uint8]) -> Detections:
        h, w = image.shape[:2]
        rects = self.tiles(w, h)
        crops = [image[y1:y2, x1:x2] for x1, y1, x2, y2 in rects]
        offsets = [(x1, y1) for x1, y1, _, _ in rects]
        if self.full_frame and len(rects) > 1:
            crops.append(image)
            offsets.append((0, 0))
        parts = []
        for det, (dx, dy) in zip(self.base.detect(crops), offsets, strict=True):
            shift = np.array([dx, dy, dx, dy], np.float32)
            parts.append(Detections(det.xyxy_px + shift, det.confidence, det.class_index, det.track_id))
        merged = Detections.concatenate(parts)
        if len(merged) == 0:
            return merged
        return merged[nms_xyxy(merged.xyxy_px, merged.confidence, self.iou_threshold, self.ios_threshold)]
