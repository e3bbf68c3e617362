"""A tracker whose association does not depend on the processing rate: motion-predicted, gated by time.

IoU trackers (ByteTrack) match a detection to a track only when their boxes overlap; when frames
are far apart (a stride of 3-4, a fast motorbike) a vehicle's boxes stop overlapping, the track is
lost and the vehicle comes back under a new id, often already past the count line. Here each track
predicts its centre from its velocity (pixels per second, so the same at every stride), and a
detection may join it within a gate that grows with the time since the track was last seen; a
track seen once has no velocity yet and gets a wider, direction-free gate. Lost tracks stay in the
same assignment until ``track_buffer_s`` has passed, so a vehicle missed by the detector for a few
frames re-joins its track at its predicted position.

Association runs in three stages: confident detections first, then the weak ones (>= ``low_conf``) for the
tracks still unmatched and seen within ``weak_gap_s`` (as ByteTrack's, whose weak boxes only continue tracks
followed in the previous frame: a weak box is often a second box on a vehicle already tracked, and re-finding
a lost track with it at the track's guessed position makes that track jump onto another vehicle, across a
count line, and counts the vehicle twice); then the confident detections still unmatched may re-join a lost
moving track when they lie ahead of it along its motion (``rejoin_cost``), before a new track starts from them
(at least ``new_track_conf``): a vehicle whose detections jump (duplicated frames, a missed detection, a box
that changes shape) keeps its id instead of starting a new track on the far side of a count line. A box within
``REPEAT_FRAC`` of a diagonal of its track's last box (a region of the picture repeated, as frame-rate
conversion and encoders leave) keeps the track alive but carries no motion: it leaves the track's position,
time and velocity alone, so a repeated picture cannot make a moving vehicle look stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detection.detections import Detections
from detection.motion_association import _NO_MATCH, assign, gated_cost, overlap_of_smaller, rejoin_cost

REPEAT_FRAC = 0.02
"""A box whose centre moved at most this share of its diagonal (and whose size changed at most twice that)
repeats the last one."""
VELOCITY_TAU_S = 0.15
"""Time constant of the velocity's exponential smoothing (in seconds, so the same at every stride)."""


@dataclass(frozen=True)
class MotionGates:
    """Gate radii, in box diagonals: ``base + per_s * dt`` (+ ``speed_frac`` of the predicted move).

    ``new_per_s`` is for a track seen once (no velocity): how far a vehicle may move, in its own
    box diagonals per second (a car at 30 m/s covers about 6 lengths/s; seen from a camera, less).
    """

    base: float = 0.5
    per_s: float = 0.25
    speed_frac: float = 0.2
    new_per_s: float = 10.0
    max_area_ratio: float = 3.0


@dataclass
class _Track:
    track_id: int
    center_px: NDArray[np.float64]
    size_px: NDArray[np.float64]  # width, height
    velocity_px_s: NDArray[np.float64]
    last_s: float  # time of the position in center_px (motion is measured from there)
    seen_s: float  # last time a detection joined the track
    hits: int


class MotionTracker:
    """Assigns persistent ids to vehicle detections by motion-predicted, time-gated matching.

    Args:
        frame_rate_hz: rate of the processed frames (source fps / stride); used when ``update`` is
            given no timestamp.
        track_buffer_s: how long an unseen track may still be re-joined.
        high_conf, low_conf, new_track_conf: the two association stages and the bar for a new track.
        gates: the gate radii.
        tentative_s: how long a track seen only once waits for its second detection (at least the
            next processed frame): it has no velocity yet, so a later match would be a guess.
        duplicate_ios: a detection covering at least this share of the smaller box with a box matched
            to a track in the same frame (intersection over the smaller) never starts a new track.
        weak_gap_s: a weak detection (below ``high_conf``) may join only a track seen at most this long
            ago (at least the previous processed frame): it continues a track, it never re-finds a lost one.
    """

    def __init__(self, frame_rate_hz: float = 30.0, track_buffer_s: float = 1.5, high_conf: float = 0.15,
                 low_conf: float = 0.05, new_track_conf: float = 0.3, gates: MotionGates | None = None,
                 tentative_s: float = 0.2, duplicate_ios: float = 0.6, weak_gap_s: float = 0.2) -> None:
        if frame_rate_hz <= 0:
            raise ValueError(f"frame_rate_hz (={frame_rate_hz}) must be > 0")
        self.dt_s, self.track_buffer_s = 1.0 / frame_rate_hz, track_buffer_s
        self.high_conf, self.low_conf, self.new_track_conf = high_conf, low_conf, new_track_conf
        self.gates = gates or MotionGates()
        self.tentative_s, self.duplicate_ios, self.weak_gap_s = tentative_s, duplicate_ios, weak_gap_s
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._now_s = -self.dt_s

    def update(self, detections: Detections, timestamp_s: float | None = None) -> Detections:
        """Track one processed frame; return the boxes matched or started here, with their track ids."""
        now = self._now_s + self.dt_s if timestamp_s is None else float(timestamp_s)
        self._now_s = now
        tentative_s = max(self.tentative_s, 1.5 * self.dt_s)
        weak_gap_s = max(self.weak_gap_s, 1.5 * self.dt_s)
        self._tracks = [t for t in self._tracks
                        if now - t.seen_s <= (self.track_buffer_s if t.hits >= 2 else tentative_s)]
        centers = detections.centers_px().astype(np.float64)
        wh = (detections.xyxy_px[:, 2:] - detections.xyxy_px[:, :2]).astype(np.float64)
        ids = np.full(len(detections), -1, np.int64)
        free_tracks = list(range(len(self._tracks)))
        for stage, stage_min in (("gate", self.high_conf), ("gate", self.low_conf), ("rejoin", self.high_conf)):
            stage_dets = [i for i in np.flatnonzero(detections.confidence >= stage_min).tolist() if ids[i] < 0]
            if stage_min < self.high_conf or stage == "rejoin":  # only tracks with a velocity
                free_tracks = [k for k in free_tracks if self._tracks[k].hits >= 2]
            candidates = free_tracks
            if stage_min < self.high_conf:  # weak boxes continue a track being followed, never re-find a lost one
                candidates = [k for k in free_tracks if now - self._tracks[k].seen_s <= weak_gap_s]
            pairs = self._match([self._tracks[k] for k in candidates], centers[stage_dets], wh[stage_dets], now,
                                rejoin=stage == "rejoin")
            for tk, di in pairs:
                track, det = self._tracks[candidates[tk]], stage_dets[di]
                self._observe(track, centers[det], wh[det], now)
                ids[det] = track.track_id
            matched = {candidates[tk] for tk, _ in pairs}
            free_tracks = [k for k in free_tracks if k not in matched]
        tracked = detections.xyxy_px[ids >= 0]
        for i in np.flatnonzero((ids < 0) & (detections.confidence >= self.new_track_conf)).tolist():
            if len(tracked) and float(overlap_of_smaller(detections.xyxy_px[i], tracked).max()) >= self.duplicate_ios:
                continue  # a second box on a vehicle already tracked here, not a new vehicle
            self._tracks.append(_Track(self._next_id, centers[i].copy(), wh[i].copy(), np.zeros(2), now, now, 1))
            ids[i] = self._next_id
            self._next_id += 1
        keep = ids >= 0
        return Detections(detections.xyxy_px[keep], detections.confidence[keep], detections.class_index[keep],
                          ids[keep])

    def _match(self, tracks: list[_Track], centers: NDArray[np.float64], wh: NDArray[np.float64],
               now_s: float, rejoin: bool = False) -> list[tuple[int, int]]:
        if not tracks or len(centers) == 0:
            return []
        g = self.gates
        gap_s = np.array([now_s - t.last_s for t in tracks])
        vel = np.stack([t.velocity_px_s for t in tracks])
        moved = vel * gap_s[:, None]
        pred = np.stack([t.center_px for t in tracks]) + moved
        size = np.stack([t.size_px for t in tracks])
        diag = np.hypot(size[:, 0], size[:, 1])
        seen_once = np.array([t.hits < 2 for t in tracks])
        radius = np.where(seen_once, diag * (g.base + g.new_per_s * gap_s),
                          diag * (g.base + g.per_s * gap_s) + g.speed_frac * np.hypot(moved[:, 0], moved[:, 1]))
        if rejoin:
            last = np.stack([t.center_px for t in tracks])
            det_area = wh[:, 0] * wh[:, 1]
            cost = rejoin_cost(last, moved, diag, centers)
            ratio = np.abs(np.log(np.maximum(det_area[None, :], 1.0) / np.maximum(size[:, :1] * size[:, 1:], 1.0)))
            cost[ratio > np.log(g.max_area_ratio)] = _NO_MATCH
            return assign(cost)
        cost = gated_cost(pred, radius, size[:, 0] * size[:, 1], centers, wh[:, 0] * wh[:, 1], g.max_area_ratio)
        return assign(cost)

    @staticmethod
    def _observe(track: _Track, center: NDArray[np.float64], wh: NDArray[np.float64], now_s: float) -> None:
        track.seen_s = now_s
        tol_px = REPEAT_FRAC * float(np.hypot(*track.size_px))
        if np.abs(center - track.center_px).max() <= tol_px and np.abs(wh - track.size_px).max() <= 2 * tol_px:
            return  # a repeated picture, not a stop
        gap_s = max(now_s - track.last_s, 1e-6)
        step = (center - track.center_px) / gap_s
        alpha = 1.0 if track.hits < 2 else 1.0 - float(np.exp(-gap_s / VELOCITY_TAU_S))
        track.velocity_px_s = alpha * step + (1.0 - alpha) * track.velocity_px_s
        track.center_px, track.size_px, track.last_s = center.copy(), wh.copy(), now_s
        track.hits += 1
