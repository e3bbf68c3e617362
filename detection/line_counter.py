"""Directed count lines: each track counts at most once per line, IN or OUT."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detection.config import CountLine
from detection.counting import CountEvent, Direction
from detection.detections import Detections
from traffic.vehicles import VEHICLE_CLASSES


def signed_distance_px(points_px: NDArray[np.floating], start_px: tuple[float, float],
                       end_px: tuple[float, float]) -> NDArray[np.float64]:
    """Signed distance of ``(N, 2)`` points to the infinite line through A=start, B=end.

    Positive on the right of A->B as seen in an image whose y axis points down (for a left-to-right
    horizontal line: below it), negative on the left.
    """
    a = np.asarray(start_px, np.float64)
    d = np.asarray(end_px, np.float64) - a
    p = np.asarray(points_px, np.float64).reshape(-1, 2) - a
    return (d[0] * p[:, 1] - d[1] * p[:, 0]) / float(np.hypot(*d))


def crossing_fraction(p0: NDArray[np.floating], p1: NDArray[np.floating], start_px: tuple[float, float],
                      end_px: tuple[float, float]) -> float | None:
    """Where the move p0->p1 meets the segment A->B, as a fraction along A->B; None if it misses.

    p0 and p1 must lie on opposite sides of the line.
    """
    a = np.asarray(start_px, np.float64)
    d = np.asarray(end_px, np.float64) - a
    m = np.asarray(p1, np.float64) - np.asarray(p0, np.float64)
    denom = d[0] * m[1] - d[1] * m[0]
    if denom == 0:
        return None
    w = np.asarray(p0, np.float64) - a
    t = (w[0] * m[1] - w[1] * m[0]) / denom
    return float(t) if 0.0 <= t <= 1.0 else None


@dataclass
class _TrackState:
    side: int  # -1 left of A->B, +1 right; positions inside the hysteresis band never set it
    point_px: NDArray[np.float64]
    last_seen_s: float


class LineCounter:
    """Counts tracks whose centre crosses a ``CountLine`` between the segment's end points.

    The side of a track is only updated by positions outside the line's hysteresis band, so jitter
    around the line or a vehicle that touches it and turns back never counts, and a track that has
    been counted on this line is never counted there again.

    Args:
        line: the count line.
        forget_after_s: stream time after which an unseen track's state is dropped (memory bound).
    """

    def __init__(self, line: CountLine, forget_after_s: float = 60.0) -> None:
        self.line = line
        self.name = line.name
        self._forget_after_s = forget_after_s
        self._states: dict[int, _TrackState] = {}
        self._counted: dict[int, float] = {}

    def update(self, tracks: Detections, frame_index: int, timestamp_s: float) -> list[CountEvent]:
        """Consume one frame's tracks; return the crossings completed in this frame."""
        line = self.line
        centers = tracks.centers_px()
        dist = signed_distance_px(centers, line.start_px, line.end_px)
        events = []
        for i, tid in enumerate(tracks.track_id.tolist()):
            if tid < 0 or abs(dist[i]) <= line.hysteresis_px:
                continue
            side = 1 if dist[i] > 0 else -1
            point = centers[i].astype(np.float64)
            state = self._states.get(tid)
            if state is None:
                self._states[tid] = _TrackState(side, point, timestamp_s)
                continue
            if side != state.side and tid not in self._counted \
                    and crossing_fraction(state.point_px, point, line.start_px, line.end_px) is not None:
                direction = Direction.IN if side > 0 else Direction.OUT
                key = line.in_key if direction is Direction.IN else line.out_key
                events.append(CountEvent(self.name, direction, key, tid, VEHICLE_CLASSES[tracks.class_index[i]],
                                         frame_index, timestamp_s))
                self._counted[tid] = timestamp_s
            state.side, state.point_px, state.last_seen_s = side, point, timestamp_s
        self._forget(timestamp_s)
        return events

    def _forget(self, now_s: float) -> None:
        stale = [t for t, s in self._states.items() if now_s - s.last_seen_s > self._forget_after_s]
        for t in stale:
            del self._states[t]
            self._counted.pop(t, None)
