"""Re-joining fragmented tracks: a vehicle the tracker lost, found again as a "new" track nearby.

IoU-based trackers lose small, fast vehicles when consecutive boxes stop overlapping (a motorbike
accelerating toward the camera, frames skipped by a stride); the vehicle then comes back under a
new id, often just past a count line, and is never counted. This joins such a new track to the
lost one when it appears where the lost one was heading, so the count line sees one track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass
class _Last:
    frame: int
    center_px: NDArray[np.float64]
    velocity_px: NDArray[np.float64]  # per processed frame
    diagonal_px: float
    class_index: int


class TrackStitcher:
    """Maps the tracker's raw ids to stable ids, joining new tracks to recently lost ones.

    A new raw track takes the id of a lost track of the same class, last seen at most
    ``max_gap_frames`` processed frames ago, whose constant-velocity prediction lies within
    ``radius_factor`` box diagonals of the new track's centre (the nearest such track).

    Args:
        max_gap_frames: how many processed frames a lost track may be re-joined after.
        radius_factor: search radius around the prediction, in diagonals of the lost track's box.
    """

    def __init__(self, max_gap_frames: int, radius_factor: float = 1.0) -> None:
        self.max_gap_frames, self.radius_factor = max_gap_frames, radius_factor
        self._alias: dict[int, int] = {}
        self._last: dict[int, _Last] = {}
        self._frame = 0
        self.joins = 0

    def relabel(self, raw_ids: NDArray[np.int64], xyxy_px: NDArray[np.float32],
                class_index: NDArray[np.int64]) -> NDArray[np.int64]:
        """Stable ids for one processed frame's tracks (``raw_ids`` as the tracker gave them)."""
        self._frame += 1
        centers = np.stack([(xyxy_px[:, 0] + xyxy_px[:, 2]) / 2, (xyxy_px[:, 1] + xyxy_px[:, 3]) / 2], axis=1) \
            .astype(np.float64) if len(xyxy_px) else np.zeros((0, 2))
        present = {self._alias[r] for r in raw_ids.tolist() if r in self._alias}
        stable = np.empty(len(raw_ids), np.int64)
        used: set[int] = set()
        for i, raw in enumerate(raw_ids.tolist()):
            if raw not in self._alias:
                self._alias[raw] = self._join(centers[i], int(class_index[i]), present | used) or raw
            sid = self._alias[raw]
            stable[i] = raw if sid in used else sid
            used.add(int(stable[i]))
        for i, sid in enumerate(stable.tolist()):
            self._remember(sid, centers[i], xyxy_px[i], int(class_index[i]))
        self._prune()
        return stable

    def _join(self, center: NDArray[np.float64], cls: int, taken: set[int]) -> int | None:
        best, best_d = None, np.inf
        for sid, last in self._last.items():
            gap = self._frame - last.frame
            if sid in taken or gap < 1 or gap > self.max_gap_frames or last.class_index != cls:
                continue
            d = float(np.hypot(*(center - (last.center_px + gap * last.velocity_px))))
            if d <= self.radius_factor * last.diagonal_px and d < best_d:
                best, best_d = sid, d
        if best is not None:
            self.joins += 1
        return best

    def _remember(self, sid: int, center: NDArray[np.float64], xyxy: NDArray[np.float32], cls: int) -> None:
        last = self._last.get(sid)
        velocity = np.zeros(2)
        if last is not None:
            step = (center - last.center_px) / max(1, self._frame - last.frame)
            velocity = step if not last.velocity_px.any() else 0.5 * (step + last.velocity_px)
        diagonal = float(np.hypot(xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]))
        self._last[sid] = _Last(self._frame, center, velocity, diagonal, cls)

    def _prune(self) -> None:
        for sid in [s for s, last in self._last.items() if self._frame - last.frame > self.max_gap_frames]:
            del self._last[sid]
        self._alias = {r: s for r, s in self._alias.items() if s in self._last}
