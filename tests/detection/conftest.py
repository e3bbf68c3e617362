"""Fixtures for the detection tests: the shared real clips and model, synthetic tracks and videos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from detection.detections import Detections
from tests.conftest import SHARED

# Ultralytics reads this when first imported: no online checks, downloads or telemetry in tests
os.environ.setdefault("YOLO_OFFLINE", "1")

REAL = SHARED / "data" / "real"
MODEL = REAL / "yolo11n_int8.tflite"
FREEWAY = REAL / "freeway_overpass_1280x720_15s.mp4"
ASIA = REAL / "asia_arterial_motorbikes_1024x576_20s.mp4"
MOTORWAY = REAL / "motorway_cctv_eu_320x240_20s.mp4"


@pytest.fixture
def real() -> Path:
    """The shared real clips and detector; skips when they or the detector's packages are missing."""
    if not MODEL.is_file():
        pytest.skip(f"real clips and model not found at {REAL}")
    pytest.importorskip("ultralytics", reason="needs the 'detect' extra (pip install 'greenwave[detect]')")
    pytest.importorskip("ai_edge_litert", reason="the TFLite model needs ai-edge-litert")
    return REAL


@pytest.fixture(scope="session")
def pt_model(tmp_path_factory) -> Path:
    """The shared TFLite detector converted to a PyTorch checkpoint (dynamic batch), once per test run."""
    if not MODEL.is_file():
        pytest.skip(f"shared model not found at {MODEL}")
    pytest.importorskip("ultralytics", reason="needs the 'detect' extra")
    pytest.importorskip("ai_edge_litert", reason="the TFLite model needs ai-edge-litert")
    from detection.convert import convert_tflite

    return convert_tflite(MODEL, tmp_path_factory.mktemp("pt") / "yolo11n_from_tflite.pt").out_path


def track_at(track_id: int, x: float, y: float, half_px: float = 10.0, class_index: int = 0) -> Detections:
    """One tracked box centred on (x, y)."""
    return Detections.from_arrays([[x - half_px, y - half_px, x + half_px, y + half_px]], [0.9], [class_index],
                                  [track_id])


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write BGR frames as an MJPG .avi (always available in OpenCV builds)."""
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path
