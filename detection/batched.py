"""One detector, frames from several cameras, as few inference calls as the model's backend allows.

A GPU is used well only with several images per forward pass. PyTorch checkpoints (``.pt``,
``.torchscript``) take any batch; exports are usually fixed at the batch they were exported with
(the shipped TFLite detector: 1), and Ultralytics then runs them one image at a time however many
it is given. ``batch_support`` says which case a model is; ``MultiCameraDetector`` batches when the
backend can and otherwise falls back to one frame per call, saying so in ``note``.

Frames may differ in size (cameras differ): Ultralytics letterboxes each to the model's square input
when the sizes differ, and to the smallest stride-multiple rectangle when they are all the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detection.detections import Detections

_DYNAMIC_SUFFIXES = (".pt", ".pth", ".torchscript")


@dataclass(frozen=True)
class BatchSupport:
    """Whether a model runs many images in one forward pass.

    Attributes:
        native: True when one call runs a whole batch (any size up to memory).
        fixed_batch: the export's fixed batch (1 for the shipped TFLite), None when dynamic.
        reason: one line for logs and benchmark tables.
    """

    native: bool
    fixed_batch: int | None
    reason: str


def batch_support(model: str | Path) -> BatchSupport:
    """How ``model``'s backend batches: PyTorch dynamically; exports at their fixed export batch."""
    path = Path(model)
    if path.suffix in _DYNAMIC_SUFFIXES:
        return BatchSupport(True, None, f"{path.suffix} model: dynamic batch, one forward pass per batch")
    fixed = _export_batch(path)
    if fixed is not None and fixed > 1:
        return BatchSupport(True, fixed, f"{path.suffix} export with a fixed batch of {fixed}")
    return BatchSupport(False, 1, f"{path.suffix or 'this'} export has a fixed batch of 1: frames run one per call")


def _export_batch(path: Path) -> int | None:
    """The ``batch`` recorded in an Ultralytics export's metadata (TFLite: a zip appended to the file)."""
    if path.suffix != ".tflite" or not path.is_file():
        return None
    from detection.convert import tflite_metadata
    from detection.errors import ModelLoadError

    try:
        return int(tflite_metadata(path).get("batch", 1))
    except (ModelLoadError, TypeError, ValueError):
        return None


class MultiCameraDetector:
    """A ``YoloDetector`` that runs the frames of many cameras ``batch_size`` at a time.

    Args:
        model: model path (``.pt`` batches; exports fall back to what they support).
        batch_size: frames per inference call wanted.
        device: ``""`` (auto), ``"cpu"``, ``"cuda:0"``, ...
        imgsz_px: inference size (PyTorch models; fixed-size exports use their own).
        confidence: lowest confidence kept (the pipeline's default).

    Attributes:
        batch_size: frames per call actually used.
        note: None, or why fewer frames per call are used than asked for.
    """

    def __init__(self, model: str | Path, batch_size: int, device: str = "", imgsz_px: int = 640,
                 confidence: float = 0.05) -> None:
        from detection.detector import YoloDetector

        if batch_size < 1:
            raise ValueError(f"batch_size (={batch_size}) must be >= 1")
        self.support = batch_support(model)
        usable = batch_size if self.support.fixed_batch is None else min(batch_size, self.support.fixed_batch)
        self.batch_size = usable if self.support.native else 1
        self.note = None if self.batch_size == batch_size else \
            f"asked for {batch_size} frames per call, running {self.batch_size}: {self.support.reason}"
        self.detector = YoloDetector(model, confidence=confidence, imgsz_px=imgsz_px, device=device,
                                     max_batch=self.batch_size)
        self.max_batch = self.batch_size

    @property
    def device(self) -> str:
        return self.detector.device

    def calls_for(self, n_frames: int) -> int:
        """Inference calls ``detect`` makes for ``n_frames`` frames."""
        return math.ceil(n_frames / self.batch_size)

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """One ``Detections`` per BGR frame, in order; frames from different cameras may differ in size."""
        return self.detector.detect(images)


def detect_cameras(detector: MultiCameraDetector,
                   frames_by_camera: dict[str, NDArray[np.uint8]]) -> dict[str, Detections]:
    """The current frame of each camera through one detector in as few calls as it allows, by camera id."""
    ids = list(frames_by_camera)
    return dict(zip(ids, detector.detect([frames_by_camera[c] for c in ids]), strict=True))
