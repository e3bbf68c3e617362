"""Record a detector's output on every frame of a clip once, then replay tracking and counting at any stride.

The detector's boxes on frame k do not depend on which other frames are processed, so a clip's
detections, recorded at stride 1, give the exact input the tracker and counters see at every stride
(stride s processes frames 0, s, 2s, ...). This is how stride invariance is measured and tested
without running the detector again per stride.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detection.config import CameraConfig
from detection.counting import CountEvent
from detection.detections import Detections
from detection.detector import Detector
from detection.sources import Frame, VideoFileSource
from traffic.counts import Health


@dataclass(frozen=True)
class RecordedClip:
    """Detections of every frame of a clip, with the clip's frame rate and timestamps."""

    fps: float
    timestamps_s: NDArray[np.float64]
    detections: tuple[Detections, ...]
    frame_size_px: tuple[int, int] | None = None  # width, height

    def __len__(self) -> int:
        return len(self.detections)

    def save(self, path: Path) -> None:
        counts = np.array([len(d) for d in self.detections], np.int64)
        cat = Detections.concatenate(list(self.detections))
        np.savez_compressed(path, fps=self.fps, timestamps_s=self.timestamps_s, counts=counts,
                            xyxy=cat.xyxy_px, conf=cat.confidence, cls=cat.class_index,
                            frame_size_px=np.array(self.frame_size_px or (0, 0), np.int64))

    @classmethod
    def load(cls, path: Path) -> RecordedClip:
        z = np.load(path)
        bounds = np.concatenate([[0], np.cumsum(z["counts"])])
        dets = tuple(Detections.from_arrays(z["xyxy"][a:b], z["conf"][a:b], z["cls"][a:b])
                     for a, b in itertools.pairwise(bounds.tolist()))
        size = tuple(int(v) for v in z["frame_size_px"]) if "frame_size_px" in z.files else (0, 0)
        return cls(float(z["fps"]), z["timestamps_s"].astype(np.float64), dets,
                   (size[0], size[1]) if size[0] > 0 else None)


def record_clip(path: str | Path, detector: Detector, max_frames: int | None = None,
                on_frame: Callable[[int], None] | None = None) -> RecordedClip:
    """Run ``detector`` on every frame of a video file (no tracking)."""
    source = VideoFileSource(path)
    dets: list[Detections] = []
    stamps: list[float] = []
    for frame in source.frames(1):
        if max_frames is not None and frame.index >= max_frames:
            break
        dets.append(detector.detect([frame.image])[0])
        stamps.append(frame.timestamp_s)
        if on_frame is not None:
            on_frame(frame.index + 1)
    return RecordedClip(source.fps, np.array(stamps, np.float64), tuple(dets), source.frame_size_px)


def replay_frames(clip: RecordedClip, stride: int) -> Iterable[tuple[Frame, Detections]]:
    """The frames (without pixels: a blank view of the frame's size) and detections a run at ``stride`` processes."""
    w, h = clip.frame_size_px or (1, 1)
    blank = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (h, w, 3))
    for k in range(0, len(clip), stride):
        yield Frame(k, float(clip.timestamps_s[k]), blank), clip.detections[k]


def replay_counts(clip: RecordedClip, camera: CameraConfig, stride: int, **settings: object) -> tuple[CountEvent, ...]:
    """Count events of the pipeline's tracker and counters fed with the recorded detections at ``stride``.

    ``settings`` are ``PipelineSettings`` fields (``tracker``, ``track_buffer_s``, ``class_settle_s``).
    """
    from detection.pipeline import PipelineSettings, count_tracks

    s = PipelineSettings(stride=stride, **settings)  # type: ignore[arg-type]
    return count_tracks(camera, s, clip.fps, ((f, d, Health.OK) for f, d in replay_frames(clip, stride)),
                        end_s=len(clip) / clip.fps)
