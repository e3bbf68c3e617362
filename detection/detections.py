"""Struct-of-arrays container for the boxes of one frame (detections or tracks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from traffic.vehicles import VEHICLE_CLASSES


@dataclass(frozen=True)
class Detections:
    """Boxes of one frame, one row per object.

    Attributes:
        xyxy_px: ``(N, 4)`` float boxes ``x1, y1, x2, y2`` in image pixels (y pointing down).
        confidence: ``(N,)`` detector confidence in [0, 1].
        class_index: ``(N,)`` index into ``traffic.vehicles.VEHICLE_CLASSES``.
        track_id: ``(N,)`` persistent track id, ``-1`` for boxes not (yet) tracked.
    """

    xyxy_px: NDArray[np.float32]
    confidence: NDArray[np.float32]
    class_index: NDArray[np.int64]
    track_id: NDArray[np.int64]

    def __post_init__(self) -> None:
        n = len(self.xyxy_px)
        if self.xyxy_px.shape != (n, 4):
            raise ValueError(f"xyxy_px must have shape (N, 4), got {self.xyxy_px.shape}")
        for name in ("confidence", "class_index", "track_id"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {getattr(self, name).shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                   np.zeros(0, np.int64))

    @classmethod
    def from_arrays(cls, xyxy_px: object, confidence: object, class_index: object,
                    track_id: object | None = None) -> Detections:
        """Build from array-likes, converting dtypes (``track_id`` defaults to -1 for every box)."""
        xyxy = np.asarray(xyxy_px, np.float32).reshape(-1, 4)
        ids = np.full(len(xyxy), -1, np.int64) if track_id is None else np.asarray(track_id, np.int64)
        return cls(xyxy, np.asarray(confidence, np.float32).reshape(-1),
                   np.asarray(class_index, np.int64).reshape(-1), ids.reshape(-1))

    def __len__(self) -> int:
        return len(self.xyxy_px)

    def __getitem__(self, index: NDArray[np.bool_] | NDArray[np.int64] | slice) -> Detections:
        return Detections(self.xyxy_px[index], self.confidence[index], self.class_index[index],
                          self.track_id[index])

    @staticmethod
    def concatenate(parts: list[Detections]) -> Detections:
        if not parts:
            return Detections.empty()
        return Detections(np.concatenate([p.xyxy_px for p in parts]), np.concatenate([p.confidence for p in parts]),
                          np.concatenate([p.class_index for p in parts]), np.concatenate([p.track_id for p in parts]))

    def centers_px(self) -> NDArray[np.float32]:
        """``(N, 2)`` box centres, the point whose motion the counters follow."""
        return np.stack([(self.xyxy_px[:, 0] + self.xyxy_px[:, 2]) / 2,
                         (self.xyxy_px[:, 1] + self.xyxy_px[:, 3]) / 2], axis=1)

    def class_names(self) -> list[str]:
        return [VEHICLE_CLASSES[i] for i in self.class_index]


def nms_xyxy(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou_threshold: float,
             ios_threshold: float = 1.1) -> NDArray[np.int64]:
    """Greedy NMS; a box also goes when its intersection over the smaller box exceeds ``ios_threshold``.

    Returns the indices kept, best score first.
    """
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (area[i] + area[rest] - inter + 1e-9)
        ios = inter / (np.minimum(area[i], area[rest]) + 1e-9)
        order = rest[(iou <= iou_threshold) & (ios <= ios_threshold)]
    return np.array(keep, np.int64)


def drop_parts(det: Detections, ios_threshold: float = 0.7) -> Detections:
    """Remove boxes mostly inside a better box of the same class (a rider and a bike, a cab and a trailer).

    Boxes of different classes are left alone: a motorbike in front of a car is a separate vehicle.
    """
    if len(det) < 2:
        return det
    keep = [idx[nms_xyxy(det.xyxy_px[idx], det.confidence[idx], 1.0, ios_threshold)]
            for c in np.unique(det.class_index) for idx in [np.flatnonzero(det.class_index == c)]]
    return det[np.sort(np.concatenate(keep))]
