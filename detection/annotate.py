"""Optional annotated output video (the only way frames ever leave the detector, and only on request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.config import CameraConfig
from detection.detections import Detections
from detection.errors import VideoSourceError

_CLASS_BGR = {0: (60, 200, 60), 1: (0, 140, 255), 2: (255, 120, 0), 3: (200, 0, 200), 4: (0, 220, 220)}


def draw_overlay(image: NDArray[np.uint8], tracks: Detections, camera: CameraConfig,
                 totals: dict[str, tuple[int, int]]) -> NDArray[np.uint8]:
    """A copy of ``image`` with count lines (with IN/OUT totals), zones and labelled track boxes."""
    import cv2

    out = image.copy()
    for zone in camera.zones:
        pts = np.array(zone.polygon_px, np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, (255, 255, 0), 2)
    for line in camera.lines:
        a = tuple(int(v) for v in line.start_px)
        b = tuple(int(v) for v in line.end_px)
        cv2.arrowedLine(out, a, b, (0, 0, 255), 2, tipLength=0.02)
        n_in, n_out = totals.get(line.name, (0, 0))
        cv2.putText(out, f"{line.name} in {n_in} out {n_out}", (a[0], max(12, a[1] - 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
    names = tracks.class_names()
    for (x1, y1, x2, y2), tid, cls, name in zip(tracks.xyxy_px.astype(int).tolist(), tracks.track_id.tolist(),
                                                tracks.class_index.tolist(), names, strict=True):
        colour = _CLASS_BGR.get(cls, (255, 255, 255))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(out, f"{tid} {name}", (x1, max(10, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return out


class AnnotatedVideoWriter:
    """Writes annotated frames to an ``.mp4`` (mp4v) or ``.avi`` (MJPG) file."""

    def __init__(self, path: str | Path, fps: float, frame_size_px: tuple[int, int]) -> None:
        import cv2

        self.path = Path(path)
        fourcc = cv2.VideoWriter.fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        self._writer: Any = cv2.VideoWriter(str(self.path), fourcc, fps, frame_size_px)
        if not self._writer.isOpened():
            raise VideoSourceError(f"{path}: cannot write the annotated video here")

    def write(self, image: NDArray[np.uint8]) -> None:
        self._writer.write(image)

    def close(self) -> None:
        self._writer.release()
