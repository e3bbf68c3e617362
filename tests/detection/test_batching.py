"""The batching front: camera threads of one process sharing one detector, their frames in batched calls."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from detection.batching import BatchInferenceError, BatchingFront, BatchSettings, shared_client, shared_fronts
from detection.detections import Detections

JOIN_S = 10.0  # generous bound for a thread that should finish (far above any wait in these tests)


def frame(value: int, shape=(8, 8, 3)) -> np.ndarray:
    """A frame whose pixels all equal ``value``: the fake detector returns it as the box's x1."""
    return np.full(shape, value, np.uint8)


class FakeDetector:
    """Records each call's frames (their values and shapes); one box per frame with x1 = the frame's value.

    ``gate``: when set, the first call blocks until it is released, so the queue fills behind it.
    ``fail_on``: a call holding a frame of this value raises ``fail_with``.
    """

    def __init__(self, max_batch: int = 64, gate: threading.Event | None = None, fail_on: int | None = None,
                 fail_with: BaseException | None = None) -> None:
        self.max_batch, self.gate, self.fail_on = max_batch, gate, fail_on
        self.fail_with = fail_with or RuntimeError("CUDA out of memory (test)")
        self.calls: list[list[int]] = []
        self.shapes: list[set[tuple[int, ...]]] = []
        self.entered = threading.Event()

    def detect(self, images):
        values = [int(im[0, 0, 0]) for im in images]
        self.calls.append(values)
        self.shapes.append({im.shape for im in images})
        self.entered.set()
        if self.gate is not None and len(self.calls) == 1:
            assert self.gate.wait(JOIN_S)
        if self.fail_on in values:
            raise self.fail_with
        return [Detections.from_arrays([[v, 0, v + 1, 1]], [0.9], [0]) for v in values]


class Camera(threading.Thread):
    """A camera thread: one ``detect`` call through its client; keeps the values returned or the error."""

    def __init__(self, client, values, shape=(8, 8, 3)) -> None:
        super().__init__(daemon=True)
        self.client, self.images = client, [frame(v, shape) for v in values]
        self.got: list[int] | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.got = [int(d.xyxy_px[0, 0]) for d in self.client.detect(self.images)]
        except BaseException as exc:
            self.error = exc

    def result(self) -> list[int] | None:
        self.join(JOIN_S)
        assert not self.is_alive(), "the camera is still waiting for its detections"
        return self.got


def wait_queued(front: BatchingFront, n: int) -> None:
    deadline = time.monotonic() + JOIN_S
    while len(front._queue) < n:
        assert time.monotonic() < deadline, f"{len(front._queue)} of {n} frames queued"
        time.sleep(0.005)


@pytest.fixture
def gated():
    """A front (batch 3, no wait) whose first call blocks: the frames sent meanwhile queue up behind it."""
    gate = threading.Event()
    det = FakeDetector(gate=gate)
    front = BatchingFront(det, BatchSettings(size=3, max_wait_ms=0))
    yield front, det, gate
    gate.set()
    front.close()


@pytest.mark.parametrize(("size", "wait_ms", "message"), [
    (0, 20, "batch size (=0) must be an integer from 1 to 256"),    # no frame per call
    (257, 20, "from 1 to 256"),                                      # beyond any sensible GPU batch
    (2.5, 20, "must be an integer"),                                 # frames are whole
    (True, 20, "must be an integer"),                                # a flag is not a size
    (8, -1, "max_wait_ms (=-1) must be a number from 0 to 10000"),   # waiting cannot be negative
    (8, float("nan"), "max_wait_ms (=nan)"),                         # NaN would never compare
    (8, 20_000, "from 0 to 10000"),                                  # a live camera cannot wait 20 s a frame
])
def test_batch_settings_are_checked(size, wait_ms, message):
    with pytest.raises(ValueError) as err:
        BatchSettings(size, wait_ms)
    assert message in str(err.value)


def test_queued_frames_form_batches_up_to_the_size_and_each_camera_gets_its_own(gated):
    front, det, gate = gated
    clients = [front.client(f"cam-{i}", frames_per_call=1) for i in range(6)]
    first = Camera(clients[0], [10])
    assert det.entered.wait(JOIN_S)
    rest = [Camera(c, [10 + i]) for i, c in enumerate(clients[1:], start=1)]
    wait_queued(front, 5)
    gate.set()
    assert [cam.result() for cam in [first, *rest]] == [[10 + i] for i in range(6)]
    assert det.calls == [[10], [11, 12, 13], [14, 15]], "oldest first, at most 3 frames per call"
    stats = front.stats()
    assert (stats.calls, stats.frames, stats.mixed_calls) == (3, 6, 2)


def test_a_cameras_frames_may_span_calls_and_come_back_in_order(gated):
    front, det, gate = gated
    first = Camera(front.client("first"), [1])
    assert det.entered.wait(JOIN_S)
    many = Camera(front.client("many"), [20, 21, 22, 23, 24])
    wait_queued(front, 5)
    other = Camera(front.client("other"), [30])
    wait_queued(front, 6)
    gate.set()
    assert first.result() == [1] and many.result() == [20, 21, 22, 23, 24] and other.result() == [30]
    assert det.calls == [[1], [20, 21, 22], [23, 24, 30]]


def test_only_frames_of_one_size_share_a_call(gated):
    """Ultralytics letterboxes mixed sizes to a square: mixing them would change what the network sees."""
    front, det, gate = gated
    first = Camera(front.client("wide"), [1], shape=(8, 16, 3))
    assert det.entered.wait(JOIN_S)
    cams = [Camera(front.client(f"c{i}"), [v], shape=s)
            for i, (v, s) in enumerate([(2, (8, 8, 3)), (3, (8, 16, 3)), (4, (8, 8, 3)), (5, (8, 16, 3))])]
    wait_queued(front, 4)
    gate.set()
    assert [c.result() for c in cams] == [[2], [3], [4], [5]] and first.result() == [1]
    assert det.calls == [[1], [2, 4], [3, 5]]
    assert all(len(s) == 1 for s in det.shapes)


def test_a_lone_camera_waits_at_most_max_wait_for_others():
    det = FakeDetector()
    front = BatchingFront(det, BatchSettings(size=8, max_wait_ms=100))
    lone, idle = front.client("lone", 1), [front.client(f"idle-{i}", 1) for i in range(3)]  # idle: never send
    t0 = time.monotonic()
    assert Camera(lone, [7]).result() == [7]
    waited_s = time.monotonic() - t0
    assert det.calls == [[7]]
    assert waited_s >= 0.1, "it waited for the idle cameras, up to max_wait_ms"
    for c in idle:
        c.close()
    front.close()


def test_frames_queued_during_a_long_call_wait_for_the_cameras_it_answers():
    """The wait counts from when the detector is free: B, queued while A's call ran longer than max_wait,
    still shares the next call with A's next frame instead of running alone (calls of alternating halves)."""
    gate = threading.Event()
    det = FakeDetector(gate=gate)
    front = BatchingFront(det, BatchSettings(size=4, max_wait_ms=500))
    a, b = front.client("a", 1), front.client("b", 1)
    got_a: list[list[int]] = []
    cam_a = threading.Thread(target=lambda: got_a.extend([[int(d.xyxy_px[0, 0]) for d in a.detect([frame(v)])]
                                                          for v in (1, 2)]), daemon=True)
    cam_a.start()
    assert det.entered.wait(JOIN_S)
    cam_b = Camera(b, [9])
    wait_queued(front, 1)
    time.sleep(0.6)  # B has now waited longer than max_wait, all of it while the detector was busy
    gate.set()
    assert cam_b.result() == [9]
    cam_a.join(JOIN_S)
    assert got_a == [[1], [2]]
    assert det.calls == [[1], [9, 2]]
    front.close()


def test_no_waiting_once_every_camera_has_sent():
    """With a 10-s max wait, the call runs as soon as every registered camera is waiting."""
    det = FakeDetector()
    front = BatchingFront(det, BatchSettings(size=8, max_wait_ms=10_000))
    a, b = front.client("a", 1), front.client("b", 1)
    t0 = time.monotonic()
    cam_a = Camera(a, [1])
    cam_b = Camera(b, [2])
    assert cam_a.result() == [1] and cam_b.result() == [2]
    assert time.monotonic() - t0 < 5.0, "did not sit out the 10-s max wait"
    assert sorted(v for call in det.calls for v in call) == [1, 2]
    b.close()  # once b has left, a alone is every camera: no wait either
    assert Camera(a, [3]).result() == [3]
    front.close()


def test_an_inference_error_reaches_every_camera_in_the_call_and_the_front_goes_on():
    gate = threading.Event()
    det = FakeDetector(gate=gate, fail_on=12)
    front = BatchingFront(det, BatchSettings(size=3, max_wait_ms=0))
    first = Camera(front.client("first"), [1])
    assert det.entered.wait(JOIN_S)
    doomed = [Camera(front.client(f"c{v}"), [v]) for v in (11, 12)]
    wait_queued(front, 2)
    split = Camera(front.client("split"), [13, 14, 15])  # its first frame shares the failing call
    wait_queued(front, 5)
    gate.set()
    assert first.result() == [1]
    for cam in [*doomed, split]:
        assert cam.result() is None
        assert isinstance(cam.error, BatchInferenceError)
        assert "batched inference failed (RuntimeError: CUDA out of memory (test))" in str(cam.error)
        assert isinstance(cam.error.__cause__, RuntimeError)
    assert det.calls == [[1], [11, 12, 13]], "the failed camera's other frames were dropped, not run"
    assert front.alive and Camera(front.client("later"), [20]).result() == [20]
    front.close()


def test_a_crash_of_the_inference_thread_answers_the_waiting_cameras():
    class Crash(BaseException):
        pass

    gate = threading.Event()
    det = FakeDetector(gate=gate, fail_on=1, fail_with=Crash("bug"))
    front = BatchingFront(det, BatchSettings(size=2, max_wait_ms=0))
    first = Camera(front.client("first"), [1])
    assert det.entered.wait(JOIN_S)
    queued = Camera(front.client("queued"), [2])
    wait_queued(front, 1)
    gate.set()
    for cam in (first, queued):
        assert cam.result() is None and "the batching front stopped (Crash: bug)" in str(cam.error)
    front._thread.join(JOIN_S)
    assert not front.alive
    with pytest.raises(BatchInferenceError, match="closed"):
        front.client("new")


def test_close_answers_what_is_queued_then_stops(gated):
    front, det, gate = gated
    a, b = front.client("a"), front.client("b")
    first = Camera(a, [1])
    assert det.entered.wait(JOIN_S)
    queued = Camera(b, [2, 3])
    wait_queued(front, 2)
    closer = threading.Thread(target=front.close, daemon=True)
    closer.start()
    gate.set()
    closer.join(JOIN_S)
    assert first.result() == [1] and queued.result() == [2, 3]
    assert not front.alive
    with pytest.raises(BatchInferenceError, match="camera a: the batching front is closed"):
        a.detect([frame(4)])
    assert a.detect([]) == []


LOADS: list[str] = []


def make_fake() -> FakeDetector:
    LOADS.append("load")
    return FakeDetector()


def test_cameras_of_a_process_share_one_detector_until_the_last_leaves():
    settings = BatchSettings(size=4, max_wait_ms=0)
    LOADS.clear()
    a = shared_client("model-x", make_fake, settings, "a")
    b = shared_client("model-x", make_fake, settings, "b")
    live = shared_client("model-x", make_fake, settings, "live", frames_per_call=1)
    other = shared_client("model-y", make_fake, settings, "c")
    assert a.front is b.front is live.front is not other.front
    assert len(LOADS) == 2, "one model load per model and process, not per camera"
    assert (a.max_batch, live.max_batch) == (4, 1)
    assert Camera(a, [5]).result() == [5] and Camera(live, [6]).result() == [6]
    front = a.front
    for c in (a, b, other):
        c.close()
    assert front.alive, "the live camera still uses it"
    live.close()
    front._thread.join(JOIN_S)
    assert not front.alive and shared_fronts() == 0
    again = shared_client("model-x", make_fake, settings, "a")
    assert again.front is not front and len(LOADS) == 3
    again.close()
