"""Frames from video files and live streams, with stream timestamps, through one interface.

A source yields ``Frame``s in order and, for a live stream that drops, a ``StreamLost`` before each
reconnection attempt. Timestamps come from the stream (container or RTP time via OpenCV's
``CAP_PROP_POS_MSEC``), falling back to ``n / fps`` when the stream gives none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from detection.errors import VideoSourceError

_URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


@dataclass(frozen=True)
class Frame:
    """A decoded frame: ``image`` is BGR ``(H, W, 3)`` uint8; ``index`` counts frames read from the source."""

    index: int
    timestamp_s: float
    image: NDArray[np.uint8]


@dataclass(frozen=True)
class StreamLost:
    """A live stream stopped delivering frames at ``timestamp_s`` (stream time); reconnecting."""

    timestamp_s: float
    attempt: int
    reason: str


class FrameSource(Protocol):
    """Anything that yields frames: a video file, an RTSP/HTTP stream, a webcam."""

    name: str
    fps: float
    is_live: bool

    def frames(self, stride: int = 1) -> Iterator[Frame | StreamLost]:
        """Every ``stride``-th frame (skipped frames are grabbed, not converted)."""
        ...


CaptureFactory = Callable[[Any], Any]


def _open_cv_capture(spec: str | int) -> Any:
    import cv2

    return cv2.VideoCapture(spec)


def _pos_ms(cap: Any) -> float:
    import cv2

    return float(cap.get(cv2.CAP_PROP_POS_MSEC))


def _fps_of(cap: Any, default: float) -> float:
    import cv2

    value = float(cap.get(cv2.CAP_PROP_FPS))
    return value if math.isfinite(value) and 1.0 <= value <= 240.0 else default


class _Clock:
    """Stream timestamps, made monotonic, with ``n / fps`` where the stream has none.

    ``offset_s`` is where the current session (a file, or one connection to a live stream) starts.
    """

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.offset_s = 0.0
        self.last_s = -math.inf

    def stamp(self, pos_ms: float, n_in_session: int) -> float:
        valid = math.isfinite(pos_ms) and pos_ms > 0
        t = self.offset_s + (pos_ms / 1000.0 if valid else n_in_session / self.fps)
        if t <= self.last_s:  # a stream restarted its clock, or gives none: keep time moving forward
            t = self.last_s + 1.0 / self.fps
        self.last_s = t
        return t


def _check_stride(stride: int) -> None:
    if stride < 1:
        raise ValueError(f"stride (={stride}) must be >= 1")


class VideoFileSource:
    """A video file OpenCV can decode (mp4, avi, wmv, mkv, ...).

    Raises:
        VideoSourceError: the file is missing, cannot be decoded, or holds no frame.

    After iteration, ``frames_read`` is the number of frames decoded and ``truncated`` tells whether
    decoding stopped well before the frame count the container declares.
    """

    is_live = False

    def __init__(self, path: str | Path, open_capture: CaptureFactory = _open_cv_capture) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise VideoSourceError(f"{path}: no such video file")
        self._open = open_capture
        cap = self._open_checked()
        try:
            import cv2

            self.fps = _fps_of(cap, 25.0)
            self.declared_frames = int(max(0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT)))
            ok, image = cap.read()
            if not ok or image is None:
                raise VideoSourceError(f"{path}: no frame could be decoded (truncated or not a video)")
            self.frame_size_px = (int(image.shape[1]), int(image.shape[0]))
        finally:
            cap.release()
        self.frames_read = 0
        self.truncated = False

    def _open_checked(self) -> Any:
        cap = self._open(str(self.path))
        if not cap.isOpened():
            raise VideoSourceError(f"{self.path}: cannot open as video (unsupported or corrupt file)")
        return cap

    def frames(self, stride: int = 1) -> Iterator[Frame]:
        _check_stride(stride)
        cap = self._open_checked()
        clock = _Clock(self.fps)
        index = 0
        try:
            while cap.grab():
                t = clock.stamp(_pos_ms(cap), index)
                if index % stride == 0:
                    ok, image = cap.retrieve()
                    if not ok or image is None:
                        break
                    yield Frame(index, t, image)
                index += 1
        finally:
            self.frames_read = index
            self.truncated = self.declared_frames > 0 and index < 0.98 * self.declared_frames - 1
            cap.release()


@dataclass(frozen=True)
class Backoff:
    """Reconnection delays: ``initial_s``, multiplied by ``factor`` per failure, capped at ``max_s``."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    max_attempts: int | None = None

    def delay_s(self, attempt: int) -> float:
        return min(self.max_s, self.initial_s * self.factor ** (attempt - 1))


class LiveStreamSource:
    """An RTSP/HTTP/... URL or a webcam index, reconnecting with exponential back-off when it drops.

    Time spent disconnected is measured with a monotonic clock (the stream gives none) and added to
    the stream clock, so timestamps keep increasing across reconnections.

    Args:
        spec: URL, or webcam index.
        backoff: reconnection policy; ``max_attempts`` None retries forever.
        open_capture, sleep, monotonic: injectable for tests.
    """

    is_live = True

    def __init__(self, spec: str | int, backoff: Backoff | None = None, fps_if_unknown: float = 25.0,
                 open_capture: CaptureFactory = _open_cv_capture, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.name = f"webcam{spec}" if isinstance(spec, int) else _redact(str(spec))
        self.backoff = backoff or Backoff()
        self.fps = fps_if_unknown
        self._fps_if_unknown = fps_if_unknown
        self._open, self._sleep, self._monotonic = open_capture, sleep, monotonic
        self.frames_read = 0
        self.reconnects = 0

    def frames(self, stride: int = 1) -> Iterator[Frame | StreamLost]:
        _check_stride(stride)
        clock = _Clock(self.fps)
        attempt = 0
        index = 0
        while True:
            cap = self._open(self.spec)
            if cap.isOpened():
                clock.fps = self.fps = _fps_of(cap, self._fps_if_unknown)
                clock.offset_s = max(clock.last_s, 0.0)
                n = 0
                while cap.grab():
                    t = clock.stamp(_pos_ms(cap), n)
                    if index % stride == 0:
                        ok, image = cap.retrieve()
                        if ok and image is not None:
                            yield Frame(index, t, image)
                    n += 1
                    index += 1
                    self.frames_read = index
                    attempt = 0
            cap.release()
            attempt += 1
            if self.backoff.max_attempts is not None and attempt > self.backoff.max_attempts:
                raise VideoSourceError(f"{self.name}: stream lost, gave up after {attempt - 1} reconnection attempts")
            lost_at_s = max(clock.last_s, 0.0)
            yield StreamLost(lost_at_s, attempt, "stream ended or could not be opened")
            t0 = self._monotonic()
            self._sleep(self.backoff.delay_s(attempt))
            self.reconnects += 1
            clock.last_s = lost_at_s + (self._monotonic() - t0)


def open_source(spec: str, backoff: Backoff | None = None) -> VideoFileSource | LiveStreamSource:
    """A ``VideoFileSource`` for a path, a ``LiveStreamSource`` for a URL or a webcam index (``"0"``)."""
    if spec.isdigit():
        return LiveStreamSource(int(spec), backoff)
    if spec.lower().startswith(_URL_SCHEMES):
        return LiveStreamSource(spec, backoff)
    return VideoFileSource(spec)


def _redact(url: str) -> str:
    """The URL without credentials (``rtsp://user:pass@host`` -> ``rtsp://***@host``)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
