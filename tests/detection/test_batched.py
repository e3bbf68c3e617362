"""Frames of several cameras through one detector: batched where the backend allows, else one per call."""

from __future__ import annotations

import numpy as np
import pytest

from detection.batched import batch_support
from tests.detection.conftest import FREEWAY, MODEL, MOTORWAY


def first_frames(path, n: int) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = [f for ok, f in (cap.read() for _ in range(n)) if ok]
    cap.release()
    return frames


class PredictCalls:
    """Counts the Ultralytics predict calls of a detector and the images in each."""

    def __init__(self, yolo_detector) -> None:
        self.sizes: list[int] = []
        model = yolo_detector._model
        original = model.predict

        def predict(images, **kwargs):
            self.sizes.append(len(images))
            return original(images, **kwargs)

        model.predict = predict


@pytest.mark.parametrize(("name", "native", "fixed"), [
    ("model.pt", True, None),            # PyTorch: any batch in one forward pass
    ("model.torchscript", True, None),
    ("model.onnx", False, 1),            # exports without readable metadata: assume their usual batch of 1
])
def test_batch_support_by_backend(name, native, fixed):
    s = batch_support(name)
    assert (s.native, s.fixed_batch) == (native, fixed)
    assert s.reason


def test_the_shipped_tflite_export_has_a_fixed_batch_of_one():
    if not MODEL.is_file():
        pytest.skip(f"shared model not found at {MODEL}")
    s = batch_support(MODEL)
    assert (s.native, s.fixed_batch) == (False, 1)
    assert "fixed batch of 1" in s.reason


def test_tflite_falls_back_to_one_frame_per_call_and_says_so(real):
    from detection.batched import MultiCameraDetector

    det = MultiCameraDetector(MODEL, batch_size=4)
    calls = PredictCalls(det.detector)
    frames = first_frames(FREEWAY, 4)
    out = det.detect(frames)
    assert det.batch_size == 1 and det.calls_for(4) == 4
    assert "fixed batch of 1" in det.note
    assert calls.sizes == [1, 1, 1, 1] and len(out) == 4


def test_pytorch_model_runs_a_batch_in_one_call_with_the_same_boxes(pt_model):
    from detection.batched import MultiCameraDetector
    from detection.model_agreement import agreement

    frames = first_frames(FREEWAY, 4)
    batched = MultiCameraDetector(pt_model, batch_size=4, device="cpu")
    calls = PredictCalls(batched.detector)
    together = batched.detect(frames)
    alone = MultiCameraDetector(pt_model, batch_size=1, device="cpu").detect(frames)
    assert batched.note is None and calls.sizes == [4]
    a = agreement(together, alone, confidence_min=0.05)
    assert a.boxes_a > 20 and a.matched == a.boxes_a == a.boxes_b  # batching changes no box


def test_detect_cameras_of_different_sizes_in_one_call(pt_model):
    from detection.batched import MultiCameraDetector, detect_cameras
    from detection.model_agreement import agreement

    frames = {"freeway": first_frames(FREEWAY, 1)[0], "motorway": first_frames(MOTORWAY, 1)[0]}
    assert frames["freeway"].shape != frames["motorway"].shape
    det = MultiCameraDetector(pt_model, batch_size=8, device="cpu")
    calls = PredictCalls(det.detector)
    out = detect_cameras(det, frames)
    assert list(out) == ["freeway", "motorway"] and calls.sizes == [2]
    h, w = frames["motorway"].shape[:2]
    assert (out["motorway"].xyxy_px[:, 2] <= w + 1).all() and (out["motorway"].xyxy_px[:, 3] <= h + 1).all()
    # one at a time each frame gets its own rectangular letterbox, together both get 640x640: boxes agree
    alone = det.detect([frames["freeway"]])
    a = agreement(alone, [out["freeway"]])
    assert a.boxes_a >= 5 and a.of_a >= 0.8 and a.of_b >= 0.8, a.to_dict()


def test_batch_size_must_be_positive():
    from detection.batched import MultiCameraDetector

    with pytest.raises(ValueError, match="batch_size"):
        MultiCameraDetector("model.pt", batch_size=0)


def count_events(camera, detector, max_frames: int) -> list[tuple]:
    from detection.pipeline import CountingPipeline, PipelineSettings
    from detection.sources import VideoFileSource

    run = CountingPipeline(camera, detector, PipelineSettings(stride=2, max_frames=max_frames)).run(
        VideoFileSource(FREEWAY))
    return [(e.counter, str(e.direction), e.vehicle_class, e.frame_index, e.track_id) for e in run.events]


@pytest.mark.slow
@pytest.mark.parametrize("frames_per_call", [1, 3])  # a live camera's one frame; a file's frames split across calls
def test_two_cameras_count_the_same_with_batching_as_without(pt_model, frames_per_call):
    """Two cameras on the freeway clip (lines 10 px apart: different crops of one size) through one shared
    detector, their frames in the same calls, count exactly what each counts with a detector of its own."""
    import threading

    from detection.batched import MultiCameraDetector
    from detection.batching import BatchingFront, BatchSettings
    from detection.config import CameraConfig, make_line
    from detection.detector import YoloDetector

    cameras = {name: CameraConfig(name, (make_line("south", (250 + dx, 450), (850 + dx, 450)),))
               for name, dx in (("a", 0), ("b", 10))}
    max_frames = 120  # 4 s of the clip, 60 frames at stride 2
    alone_det = YoloDetector(pt_model, device="cpu")
    alone = {name: count_events(cam, alone_det, max_frames) for name, cam in cameras.items()}
    assert all(len(ev) >= 3 for ev in alone.values()), alone  # enough vehicles crossed for the check to mean much

    front = BatchingFront(MultiCameraDetector(pt_model, batch_size=4, device="cpu"), BatchSettings(4, 200))
    clients = {name: front.client(name, frames_per_call) for name in cameras}
    together: dict[str, list[tuple]] = {}
    threads = [threading.Thread(target=lambda n=name: together.__setitem__(n, count_events(cameras[n], clients[n],
                                                                                         max_frames)))
               for name in cameras]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    front.close()
    stats = front.stats()
    assert together == alone
    assert stats.frames == 2 * 60 and stats.mixed_calls > 0, "frames of both cameras shared calls"
    assert stats.frames_per_call > frames_per_call
