"""Video files and live streams: stream timestamps, stride, clear errors, reconnection with back-off."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from detection.errors import VideoSourceError
from detection.sources import Backoff, Frame, LiveStreamSource, StreamLost, VideoFileSource, open_source
from tests.detection.conftest import FREEWAY, write_video

cv2 = pytest.importorskip("cv2")


@pytest.fixture
def small_video(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(20)]
    return write_video(tmp_path / "clip.avi", frames, fps=10.0)


def test_file_frames_timestamps_and_stride(small_video):
    src = VideoFileSource(small_video)
    assert src.fps == pytest.approx(10.0) and src.frame_size_px == (64, 48)
    frames = list(src.frames())
    assert [f.index for f in frames] == list(range(20)) and src.frames_read == 20 and not src.truncated
    times = [f.timestamp_s for f in frames]
    assert times[0] == pytest.approx(0.0, abs=0.11) and all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] - times[0] == pytest.approx(1.9, abs=0.01), "timestamps follow the stream (10 fps)"
    strided = list(src.frames(stride=3))
    assert [f.index for f in strided] == list(range(0, 20, 3)) and src.frames_read == 20


@pytest.mark.parametrize(("rule", "make", "message"), [
    ("missing file", lambda p: p / "none.mp4", "no such video file"),
    ("not a video", lambda p: (p / "notes.mp4").write_text("hello") and p / "notes.mp4", "cannot"),
    ("empty file", lambda p: (p / "empty.avi").write_bytes(b"") == 0 and p / "empty.avi", "cannot"),
])
def test_unreadable_files_raise_a_clear_error(tmp_path, rule, make, message):
    with pytest.raises(VideoSourceError, match=message) as exc:
        VideoFileSource(make(tmp_path))
    assert "\n" not in str(exc.value), rule


def test_truncated_file_is_an_error_or_flagged(tmp_path):
    if not FREEWAY.is_file():
        pytest.skip(f"{FREEWAY} not found")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(FREEWAY.read_bytes()[: FREEWAY.stat().st_size // 3])
    try:
        src = VideoFileSource(cut)
    except VideoSourceError as exc:
        assert "cut.mp4" in str(exc)
        return
    n = sum(1 for _ in src.frames())
    assert src.truncated and n < src.declared_frames, "decoding stopped early and says so"


class FakeCapture:
    """A capture that delivers ``n`` frames with stream timestamps (0 ms for the first), or fails to open."""

    def __init__(self, n, opened=True, start_ms=0.0):
        self.n, self.opened, self.i, self.start_ms = n, opened, 0, start_ms

    def isOpened(self):
        return self.opened

    def grab(self):
        self.i += 1
        return self.opened and self.i <= self.n

    def retrieve(self):
        return True, np.zeros((4, 4, 3), np.uint8)

    def get(self, prop):
        if prop == cv2.CAP_PROP_FPS:
            return 10.0
        if prop == cv2.CAP_PROP_POS_MSEC:
            return self.start_ms + (self.i - 1) * 100.0
        return 0.0

    def release(self):
        pass


def test_live_stream_reconnects_with_backoff_and_keeps_time_increasing():
    down = [FakeCapture(0, opened=False) for _ in range(6)]
    sessions = iter([FakeCapture(5), *down[:2], FakeCapture(3), *down[2:]])
    sleeps, clock = [], [100.0]

    def sleep(s):
        sleeps.append(s)
        clock[0] += s

    src = LiveStreamSource("rtsp://user:secret@cam/stream", Backoff(initial_s=0.5, factor=2.0, max_attempts=3),
                           open_capture=lambda spec: next(sessions), sleep=sleep, monotonic=lambda: clock[0])
    assert "secret" not in src.name
    items = []
    with pytest.raises(VideoSourceError, match="gave up after 3 reconnection attempts"):
        for item in src.frames():
            items.append(item)
    kinds = ["F" if isinstance(i, Frame) else "L" for i in items]
    assert kinds == ["F"] * 5 + ["L"] * 3 + ["F"] * 3 + ["L"] * 3
    assert sleeps == [0.5, 1.0, 2.0, 0.5, 1.0, 2.0], "back-off doubles while the stream is down, resets after frames"
    times = [i.timestamp_s for i in items if isinstance(i, Frame)]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[5] - times[4] >= 3.5 - 1e-9, "the outage (0.5 + 1 + 2 s) shows in stream time"
    lost = [i for i in items if isinstance(i, StreamLost)]
    assert [x.attempt for x in lost] == [1, 2, 3, 1, 2, 3]


def test_open_source_dispatch(small_video):
    assert isinstance(open_source(str(small_video)), VideoFileSource)
    assert isinstance(open_source("rtsp://cam/1"), LiveStreamSource)
    assert open_source("0").name == "webcam0"
    with pytest.raises(VideoSourceError):
        open_source("no/such/file.mp4")
