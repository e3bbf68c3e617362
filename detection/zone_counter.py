"""Count zones: a track counts once when its centre stays inside a polygon; occupancy gives queues."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.config import CountZone
from detection.counting import CountEvent, Direction
from detection.detections import Detections
from traffic.vehicles import VEHICLE_CLASSES


def points_in_polygon(points_px: NDArray[np.floating],
                      polygon_px: tuple[tuple[float, float], ...]) -> NDArray[np.bool_]:
    """Even-odd rule for ``(N, 2)`` points against a polygon (points on an edge may fall either way)."""
    pts = np.asarray(points_px, np.float64).reshape(-1, 2)
    poly = np.asarray(polygon_px, np.float64)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.count_nonzero(straddles & (x < x_cross), axis=1) % 2 == 1


class ZoneCounter:
    """Counts each track once after ``zone.min_frames`` consecutive processed frames inside the zone.

    ``occupancy`` is the number of tracks inside in the last frame (a queue estimate for the zone's key).
    """

    def __init__(self, zone: CountZone, forget_after_s: float = 60.0) -> None:
        self.zone = zone
        self.name = zone.name
        self.occupancy = 0
        self._forget_after_s = forget_after_s
        self._inside_frames: dict[int, int] = {}
        self._last_seen_s: dict[int, float] = {}
        self._counted: set[int] = set()

    def update(self, tracks: Detections, frame_index: int, timestamp_s: float) -> list[CountEvent]:
        inside = points_in_polygon(tracks.centers_px(), self.zone.polygon_px)
        events = []
        self.occupancy = 0
        for i, tid in enumerate(tracks.track_id.tolist()):
            if tid < 0:
                continue
            self._last_seen_s[tid] = timestamp_s
            if not inside[i]:
                self._inside_frames[tid] = 0
                continue
            self.occupancy += 1
            n = self._inside_frames.get(tid, 0) + 1
            self._inside_frames[tid] = n
            if n >= self.zone.min_frames and tid not in self._counted:
                self._counted.add(tid)
                events.append(CountEvent(self.name, Direction.ENTER, self.zone.key, tid,
                                         VEHICLE_CLASSES[tracks.class_index[i]], frame_index, timestamp_s))
        for tid in [t for t, s in self._last_seen_s.items() if timestamp_s - s > self._forget_after_s]:
            del self._last_seen_s[tid]
            self._inside_frames.pop(tid, None)
            self._counted.discard(tid)
        return events
