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


def cut_across_line(xyxy_px: NDArray[np.floating], frame_size_px: tuple[int, int] | None,
                    start_px: tuple[float, float], end_px: tuple[float, float], margin_px: float = 2.0,
                    min_normal: float = 0.25) -> NDArray[np.bool_]:
    """Boxes cut by the frame's edge in a way that shifts their centre toward or away from the line.

    A box within ``margin_px`` of the left or right edge has a wrong x centre, which matters only
    when the line's normal has an x component (at least ``min_normal``); likewise top/bottom and y.
    None is cut when the frame size is unknown.
    """
    if frame_size_px is None or len(xyxy_px) == 0:
        return np.zeros(len(xyxy_px), bool)
    w, h = frame_size_px
    d = np.asarray(end_px, np.float64) - np.asarray(start_px, np.float64)
    nx, ny = abs(d[1]) / np.hypot(*d), abs(d[0]) / np.hypot(*d)
    side_cut = (xyxy_px[:, 0] <= margin_px) | (xyxy_px[:, 2] >= w - margin_px)
    end_cut = (xyxy_px[:, 1] <= margin_px) | (xyxy_px[:, 3] >= h - margin_px)
    return np.asarray((side_cut & (nx >= min_normal)) | (end_cut & (ny >= min_normal)), bool)


def path_crossing(p0: NDArray[np.floating], t0_s: float, p1: NDArray[np.floating], t1_s: float,
                  start_px: tuple[float, float], end_px: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    """When and where the straight path from ``p0`` (at ``t0_s``) to ``p1`` (at ``t1_s``) meets the line.

    ``p0`` and ``p1`` lie on opposite sides of the line: the last position on one side and the first
    on the other. Time and place are interpolated linearly along the path.
    """
    d0, d1 = signed_distance_px(np.stack([p0, p1]), start_px, end_px).tolist()
    f = d0 / (d0 - d1) if d0 != d1 else 0.5
    at = np.asarray(p0, np.float64) + f * (np.asarray(p1, np.float64) - np.asarray(p0, np.float64))
    return t0_s + f * (t1_s - t0_s), (float(at[0]), float(at[1]))


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
        frame_size_px: ``(width, height)``; when known, a box cut by the frame's edge across the line
            (``cut_across_line``) never changes the side of its track: its centre is not the vehicle's,
            and whether a vehicle leaving the picture at the line is counted would depend on which
            frames were processed.
    """

    def __init__(self, line: CountLine, forget_after_s: float = 60.0,
                 frame_size_px: tuple[int, int] | None = None) -> None:
        self.line = line
        self.name = line.name
        self._forget_after_s = forget_after_s
        self.frame_size_px = frame_size_px
        self._states: dict[int, _TrackState] = {}
        self._counted: dict[int, float] = {}

    def update(self, tracks: Detections, frame_index: int, timestamp_s: float) -> list[CountEvent]:
        """Consume one frame's tracks; return the crossings completed in this frame."""
        line = self.line
        centers = tracks.centers_px()
        dist = signed_distance_px(centers, line.start_px, line.end_px)
        cut = cut_across_line(tracks.xyxy_px, self.frame_size_px, line.start_px, line.end_px)
        events = []
        for i, tid in enumerate(tracks.track_id.tolist()):
            if tid < 0 or abs(dist[i]) <= line.hysteresis_px or cut[i]:
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
                at_s, at_px = path_crossing(state.point_px, state.last_seen_s, point, timestamp_s,
                                            line.start_px, line.end_px)
                events.append(CountEvent(self.name, direction, key, tid, VEHICLE_CLASSES[tracks.class_index[i]],
                                         frame_index, timestamp_s, at_s, at_px))
                self._counted[tid] = timestamp_s
            state.side, state.point_px, state.last_seen_s = side, point, timestamp_s
        self._forget(timestamp_s)
        return events

    def _forget(self, now_s: float) -> None:
        stale = [t for t, s in self._states.items() if now_s - s.last_seen_s > self._forget_after_s]
        for t in stale:
            del self._states[t]
            self._counted.pop(t, None)
