"""Vehicle detection with any model Ultralytics loads (``.pt``, ONNX, TFLite, ...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from detection.detections import Detections, drop_parts
from detection.errors import ModelLoadError
from traffic.vehicles import VEHICLE_CLASSES

DEFAULT_MODEL = "yolo11n.pt"
"""Ultralytics downloads it on first use; offline users pass a local file (``--model PATH``)."""

_BATCHING_SUFFIXES = (".pt", ".torchscript")  # backends that accept a dynamic batch; exports are fixed at 1


class Detector(Protocol):
    """Finds vehicles in images; ``max_batch`` images may be passed at once."""

    max_batch: int

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """One ``Detections`` (``track_id`` -1) per BGR image of shape ``(H, W, 3)``."""
        ...


class YoloDetector:
    """An Ultralytics YOLO model restricted to ``VEHICLE_CLASSES``.

    Args:
        model: path of a model file, or an official name Ultralytics can download (``yolo11n.pt``).
        confidence: lowest confidence kept; low values feed ByteTrack's second association stage.
        iou: NMS IoU threshold.
        imgsz_px: inference size (fixed-size exports such as TFLite use their own).
        device: ``""`` for auto (CUDA when present, else CPU), or ``"cpu"``, ``"cuda:0"``, ...
        max_batch: images per inference call; default 8 for PyTorch models, 1 for fixed-batch exports.
        cpu_threads: threads for CPU runtimes that take a count (LiteRT/TFLite); default: every core
            (Ultralytics leaves one free, which on a 2-core camera box costs a third of the speed).
    """

    def __init__(self, model: str | Path = DEFAULT_MODEL, confidence: float = 0.05, iou: float = 0.7,
                 imgsz_px: int = 640, device: str = "", max_batch: int | None = None,
                 cpu_threads: int | None = None) -> None:
        self.model_path = str(model)
        self.confidence, self.iou, self.imgsz_px = confidence, iou, imgsz_px
        self._model = load_yolo(self.model_path, cpu_threads or os.cpu_count() or 1)
        self.device = device or _auto_device(self.model_path)
        names: dict[int, str] = self._model.names
        self._class_map = {i: VEHICLE_CLASSES.index(n) for i, n in names.items() if n in VEHICLE_CLASSES}
        if not self._class_map:
            raise ModelLoadError(f"model {self.model_path!r} has none of the classes {', '.join(VEHICLE_CLASSES)}")
        self._lookup = np.full(max(names) + 1, -1, np.int64)
        for i, c in self._class_map.items():
            self._lookup[i] = c
        self.max_batch = max_batch or (8 if self.model_path.endswith(_BATCHING_SUFFIXES) else 1)

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        out: list[Detections] = []
        for i in range(0, len(images), self.max_batch):
            chunk = list(images[i:i + self.max_batch])
            # class-agnostic NMS: one vehicle seen as both car and truck must not become two tracks
            results = self._model.predict(chunk, conf=self.confidence, iou=self.iou, imgsz=self.imgsz_px,
                                          classes=sorted(self._class_map), agnostic_nms=True,
                                          device=self.device, verbose=False)
            out.extend(self._to_detections(r) for r in results)
        return out

    def _to_detections(self, result: Any) -> Detections:
        boxes = result.boxes.cpu().numpy()
        cls = self._lookup[boxes.cls.astype(np.int64)]
        keep = cls >= 0
        return drop_parts(Detections.from_arrays(boxes.xyxy[keep], boxes.conf[keep], cls[keep]))


def load_yolo(model: str, cpu_threads: int = 1) -> Any:
    """Load an Ultralytics model without network access when the file is local.

    Raises:
        ModelLoadError: the file is missing and cannot be downloaded, or Ultralytics cannot load it.
    """
    local = Path(model).is_file()
    if local:
        os.environ.setdefault("YOLO_OFFLINE", "1")  # read when ultralytics is first imported: no checks, no events
    elif os.environ.get("YOLO_OFFLINE") or Path(model).parent != Path("."):
        raise ModelLoadError(f"model {model!r} not found; pass --model PATH to a local model file "
                             "(e.g. a .pt, .onnx or .tflite export)")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    try:
        from ultralytics import YOLO

        _set_litert_threads(cpu_threads)
        return YOLO(model, task="detect")
    except Exception as exc:  # ultralytics raises many types (download, format, backend import)
        hint = "" if local else "; without internet, pass --model PATH to a local model file"
        raise ModelLoadError(f"cannot load model {model!r}: {' '.join(str(exc).split())[:300]}{hint}") from None


def _set_litert_threads(n: int) -> None:
    """Ultralytics reads its LiteRT interpreter's thread count from a module constant; set it before loading."""
    try:
        from ultralytics.nn.backends import litert
    except ImportError:  # other Ultralytics layouts: keep their default
        return
    litert.NUM_THREADS = n


def _auto_device(model: str) -> str:
    """CUDA when present (exports such as TFLite choose their own runtime and ignore it), else CPU."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"
