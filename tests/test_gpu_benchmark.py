"""benchmarks/gpu.py on a host without a GPU (or with --device cpu): CPU parts measured, GPU parts skipped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gpu_bench():
    pytest.importorskip("torch", reason="needs the 'detect' extra")
    pytest.importorskip("ultralytics", reason="needs the 'detect' extra")
    spec = importlib.util.spec_from_file_location("gpu_bench", REPO / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_fallback_runs_quick_and_writes_json_saying_what_was_skipped(gpu_bench, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    rc = gpu_bench.main(["--quick", "--device", "cpu", "--frames", "2", "--batch-sizes", "1,2", "--imgsz", "320",
                         "--e2e-frames", "6", "--sim-seeds", "1", "--no-check-counts", "--cache", str(tmp_path),
                         "--out", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert r["device"] == "cpu" and r["quick"] is True
    env = r["environment"]
    assert env["driver"] == "none" and env["cuda"] == "none" and env["torch"] and env["ultralytics"] != "none"
    skipped = {s["what"]: s["why"] for s in r["skipped"]}
    gpu_parts = [w for w in skipped if "GPU" in w]
    assert len(gpu_parts) == 3 and all(skipped[w] == "--device cpu" for w in gpu_parts)
    assert all(f"skipped: {w}" in printed for w in gpu_parts)
    pt_rows = [t for t in r["throughput"] if t["model"].endswith(".pt")]
    assert [(t["imgsz_px"], t["batch"], t["batch_used"]) for t in pt_rows] == [(320, 1, 1), (320, 2, 2)]
    assert all(t["device"] == "cpu" and t["frames_per_s"] > 0 and t["memory_kind"] == "process_rss"
               and t["memory_mb"] > 0 for t in r["throughput"])
    weights = r["models"]["pt"]["weights"]
    if "tflite" in r["models"]:  # the shared model converted; its rows fall back to one frame per call
        assert weights.startswith("dequantised from")
        tfl = [t for t in r["throughput"] if t["model"].endswith(".tflite")]
        assert [(t["imgsz_px"], t["batch_used"]) for t in tfl] == [(640, 1), (640, 1)]
        assert tfl[1]["note"] and "fixed batch of 1" in tfl[1]["note"]
    else:  # no shared data: the same architecture with random weights, labelled as such
        assert weights == "random weights (speed only)" and "random weights (speed only)" in printed
    for e in r["end_to_end"]:
        assert e["frames"] == 6 and e["total_ms_per_frame"] >= e["detect_ms_per_frame"] > 0
        assert isinstance(e["streams"], int) and e["streams"] == int(e["streams_exact"])
    assert r["simulation"]["runs_per_hour_per_core"] > 0 and r["simulation"]["seeds"] == 1


def test_device_cuda_without_cuda_is_a_one_line_error(gpu_bench, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has CUDA")
    out = tmp_path / "gpu.json"
    assert gpu_bench.main(["--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "torch.cuda.is_available() is False" in err and "\n" not in err
    assert not out.exists()


def test_cuda_status_says_why_not(gpu_bench, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ok, why = gpu_bench.cuda_status()
    assert not ok and "torch.cuda.is_available() is False" in why and torch.__version__ in why


@pytest.mark.parametrize(("gpu", "detect_ms", "host_ms", "cores", "streams", "rule"), [
    (True, 2.0, 10.0, 16, 16, "GPU-bound: 1000/(30*2) = 16.7"),
    (True, 1.0, 10.0, 8, 26, "host-bound: 8 cores * 1000/(30*10) = 26.7 < 33.3"),
    (False, 60.0, 10.0, 2, 0, "CPU: serial, 1000/(30*70) = 0.48"),
    (False, 10.0, 5.0, 2, 2, "CPU: 1000/(30*15) = 2.2"),
])
def test_streams_sustained(gpu_bench, gpu, detect_ms, host_ms, cores, streams, rule):
    assert gpu_bench.streams_sustained(gpu, detect_ms, host_ms, cores)["streams"] == streams, rule
