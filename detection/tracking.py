"""Persistent track ids (the motion tracker, or Ultralytics' ByteTrack / BoT-SORT), classes by majority vote."""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.detections import Detections
from detection.errors import DetectionError
from detection.motion_tracker import MotionTracker
from detection.stitching import TrackStitcher
from traffic.vehicles import VEHICLE_CLASSES

TRACKERS = ("motion", "bytetrack", "botsort")
DEFAULT_OVERRIDES = {"track_high_thresh": 0.15, "track_low_thresh": 0.05, "new_track_thresh": 0.3, "fuse_score": False,
                     "match_thresh": 0.9}


class ClassVotes:
    """Class votes per track, weighted by confidence x box area; a track's class is the heaviest so far.

    Area weighting trusts the frames where the vehicle is large (near the camera) over those where it
    is a few pixels tall and easily mistaken (a distant motorbike looks like a car).
    """

    def __init__(self) -> None:
        self._votes: dict[int, NDArray[np.float64]] = defaultdict(lambda: np.zeros(len(VEHICLE_CLASSES)))

    def add(self, track_ids: NDArray[np.int64], class_index: NDArray[np.int64], confidence: NDArray[np.float32],
            area_px2: NDArray[np.float32]) -> None:
        weight = confidence.astype(np.float64) * area_px2
        for tid, cls, w in zip(track_ids.tolist(), class_index.tolist(), weight.tolist(), strict=True):
            self._votes[tid][cls] += w

    def majority_of(self, track_id: int) -> int | None:
        """The track's class index, None when the track is unknown (never seen or forgotten)."""
        votes = self._votes.get(track_id)
        return None if votes is None else int(np.argmax(votes))

    def majority(self, track_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.array([int(np.argmax(self._votes[t])) for t in track_ids.tolist()], np.int64)

    def forget(self, track_ids: set[int]) -> None:
        for t in track_ids:
            self._votes.pop(t, None)


class _Boxes:
    """The minimal results object Ultralytics' trackers read (``conf``, ``cls``, ``xywh``, indexing)."""

    def __init__(self, xyxy: NDArray[np.float32], conf: NDArray[np.float32], cls: NDArray[np.float32]) -> None:
        self.xyxy, self.conf, self.cls = xyxy, conf, cls
        self.xywh = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        self.data = np.concatenate([xyxy, conf[:, None], cls[:, None]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: Any) -> _Boxes:
        return _Boxes(self.xyxy[index], self.conf[index], self.cls[index])


class VehicleTracker:
    """Assigns persistent ids to vehicle detections, frame by frame.

    Args:
        tracker: ``"motion"`` (``detection.motion_tracker``: motion-predicted, time-gated association whose
            result does not depend on the processing rate), or Ultralytics' ``"bytetrack"`` or ``"botsort"``
            (Ultralytics' defaults for that tracker, with the overrides below).
        frame_rate_hz: rate of the frames this tracker sees (source fps / stride).
        track_buffer_s: how long a lost track is kept for re-identification.
        overrides: other Ultralytics tracker settings (``track_high_thresh``, ``match_thresh``, ...).
        stitch: re-join a track the tracker lost to the new track that continues it
            (``detection.stitching``).

    The defaults lower Ultralytics' association thresholds (high 0.25 -> 0.15, low 0.1 -> 0.05) and
    raise the bar for starting a track (0.25 -> 0.3): small two-wheelers are often detected at
    0.15-0.25 between the frames that start their track, and would otherwise never be confirmed.
    """

    def __init__(self, tracker: str = "motion", frame_rate_hz: float = 30.0, track_buffer_s: float = 1.5,
                 overrides: dict[str, Any] | None = None, stitch: bool = True) -> None:
        if tracker not in TRACKERS:
            raise DetectionError(f"tracker {tracker!r} is not supported; use one of {', '.join(TRACKERS)}")
        settings = {**DEFAULT_OVERRIDES, **(overrides or {})}
        buffer_frames = max(1, round(track_buffer_s * frame_rate_hz))
        self._motion: MotionTracker | None = None
        if tracker == "motion":  # re-joins lost tracks itself, by predicted position
            self._motion = MotionTracker(frame_rate_hz, track_buffer_s, settings["track_high_thresh"],
                                         settings["track_low_thresh"], settings["new_track_thresh"])
            self._impl: Any = None
        else:
            self._impl = _build_tracker(tracker, buffer_frames, settings)
        self.stitcher = TrackStitcher(buffer_frames) if stitch and self._motion is None else None
        self.votes = ClassVotes()
        self._last_seen: dict[int, int] = {}
        self._frame = 0
        self._keep_frames = 2 * buffer_frames

    def update(self, detections: Detections, image: NDArray[np.uint8] | None = None,
               timestamp_s: float | None = None) -> Detections:
        """Track one frame; return the active tracks with ids and majority-vote classes.

        ``timestamp_s`` (stream time) lets the motion tracker measure the real gap between frames;
        without it frames are taken as ``1 / frame_rate_hz`` apart.
        """
        self._frame += 1
        if self._motion is not None:
            tracks = self._motion.update(detections, timestamp_s)
            return self._vote(tracks.xyxy_px, tracks.confidence, tracks.class_index, tracks.track_id)
        boxes = _Boxes(detections.xyxy_px, detections.confidence, detections.class_index.astype(np.float32))
        out = np.asarray(self._impl.update(boxes, image), np.float32).reshape(-1, 8)
        idx = out[:, 7].astype(int)
        xyxy = detections.xyxy_px[idx]
        cls = detections.class_index[idx]
        ids = out[:, 4].astype(np.int64)
        if self.stitcher is not None:
            ids = self.stitcher.relabel(ids, out[:, :4], cls)
        return self._vote(out[:, :4].copy(), detections.confidence[idx], cls, ids, vote_xyxy=xyxy,
                          out_confidence=out[:, 5].copy())

    def _vote(self, xyxy: NDArray[np.float32], confidence: NDArray[np.float32], cls: NDArray[np.int64],
              ids: NDArray[np.int64], vote_xyxy: NDArray[np.float32] | None = None,
              out_confidence: NDArray[np.float32] | None = None) -> Detections:
        vx = xyxy if vote_xyxy is None else vote_xyxy
        area = (vx[:, 2] - vx[:, 0]) * (vx[:, 3] - vx[:, 1])
        self.votes.add(ids, cls, confidence, area)
        for t in ids.tolist():
            self._last_seen[t] = self._frame
        self._forget_old()
        conf = confidence if out_confidence is None else out_confidence
        return Detections(xyxy, conf, self.votes.majority(ids), ids)

    def _forget_old(self) -> None:
        old = {t for t, f in self._last_seen.items() if self._frame - f > self._keep_frames}
        self.votes.forget(old)
        for t in old:
            del self._last_seen[t]


def _build_tracker(name: str, track_buffer_frames: int, overrides: dict[str, Any]) -> Any:
    if "ultralytics" not in sys.modules:  # first import: trackers never need the network checks
        os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.trackers.track import TRACKER_MAP
    from ultralytics.utils import ROOT, YAML, IterableSimpleNamespace

    cfg = YAML.load(ROOT / "cfg" / "trackers" / f"{name}.yaml")
    cfg.update({"track_buffer": track_buffer_frames, **overrides})
    if name == "botsort":
        cfg.setdefault("gmc_method", "none")
        cfg["with_reid"] = False
    return TRACKER_MAP[name](args=IterableSimpleNamespace(**cfg))
