"""``greenwave demo --video CLIP --camera-config CAMERA``: a camera that does not fit the scenario is a
user error (one line on stderr, exit 2) naming the camera."""

from __future__ import annotations

import json
import os

import pytest

from greenwave.cli.main import main
from tests.conftest import SHARED

# Ultralytics reads this when first imported: no online checks, downloads or telemetry in tests
os.environ.setdefault("YOLO_OFFLINE", "1")

REAL = SHARED / "data" / "real"
MODEL = REAL / "yolo11n_int8.tflite"
CLIP = REAL / "intersection_eu_640x480_20s.mp4"


def write_camera(path, intersection: str, in_key: str):
    """A camera with one count line across the clip's intersection, just below its top crosswalk."""
    path.write_text(json.dumps({
        "camera": "cam_eu", "intersection": intersection,
        "lines": [{"name": "top", "start": [0, 160], "end": [640, 160], "in_key": in_key, "out_key": None}]}))
    return path


@pytest.fixture(scope="module")
def detect_extra() -> None:
    """Skips without the detect extra; imports it outside ``capsys`` (Ultralytics binds its log handler
    to the ``sys.stderr`` of its first import, which a later test would find closed)."""
    pytest.importorskip("ultralytics", reason="needs the 'detect' extra (pip install 'greenwave[detect]')")
    pytest.importorskip("cv2", reason="needs the 'detect' extra (pip install 'greenwave[detect]')")


def test_a_camera_of_an_intersection_not_in_the_scenario_is_refused(detect_extra, tmp_path, capsys):
    camera = write_camera(tmp_path / "cam.json", "Z9", "W_I1>I1_I2")
    assert main(["demo", "--video", str(CLIP), "--camera-config", str(camera), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "camera 'cam_eu': its intersection ('Z9') is not a signal of 'arterial_timevarying'" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_clip_whose_count_keys_name_no_movement_is_refused(detect_extra, tmp_path, capsys):
    if not (MODEL.is_file() and CLIP.is_file()):
        pytest.skip(f"real clips and model not found at {REAL}")
    pytest.importorskip("ai_edge_litert", reason="the TFLite model needs ai-edge-litert")
    camera = write_camera(tmp_path / "cam.json", "I1", "north:in")
    argv = ["demo", "--video", str(CLIP), "--camera-config", str(camera), "--model", str(MODEL),
            "--camera-interval-s", "10", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "camera 'cam_eu': its count keys ['north:in'] name no movement of I1" in err
    assert not (tmp_path / "out").exists()
