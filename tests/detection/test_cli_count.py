"""``greenwave count``: accurate help, one-line errors with exit 2, the --json document."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from greenwave.cli.main import main
from tests.detection.conftest import MODEL, MOTORWAY


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["count", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for option in ("--config", "--line", "--model", "--stride", "--sliced", "--annotate", "--json"):
        assert option in out
    assert "yolo11n.pt" in " ".join(out.split())


@pytest.mark.parametrize(("rule", "argv", "message"), [
    ("a line or a config is required", ["count", "x.mp4"], "one of the arguments --config --line is required"),
    ("not both", ["count", "x.mp4", "--line", "0,0,9,9", "--config", "c.json"], "not allowed with"),
    ("a bad line", ["count", "x.mp4", "--line", "1,2"], "expected four numbers"),
    ("a bad stride", ["count", "x.mp4", "--line", "0,0,9,9", "--stride", "0"], "positive integer or 'auto'"),
    ("one slicing mode", ["count", "x.mp4", "--line", "0,0,9,9", "--sliced", "--slice-lines"], "not allowed with"),
    ("a missing config", ["count", "x.mp4", "--config", "none.json"], "cannot read camera config"),
    ("a missing video", ["count", "none.mp4", "--line", "0,0,9,9"], "none.mp4: no such video file"),
])
def test_user_errors_are_one_line_with_exit_2(tmp_path, monkeypatch, capsys, rule, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, rule
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreadable_video_and_missing_model(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    assert main(["count", str(bad), "--line", "0,0,9,9"]) == 2
    assert "cannot open as video" in capsys.readouterr().err
    if not MOTORWAY.is_file():
        pytest.skip("real clips not found")
    assert main(["count", str(MOTORWAY), "--line", "0,120,320,120", "--model", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err
    assert "not found; pass --model PATH" in err and len(err.strip().splitlines()) == 1


def test_default_model_offline_gives_a_one_line_hint(tmp_path, monkeypatch, capsys):
    if not MOTORWAY.is_file():
        pytest.skip("real clips not found")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    assert main(["count", str(MOTORWAY), "--line", "0,120,320,120"]) == 2
    assert "model 'yolo11n.pt' not found; pass --model PATH" in capsys.readouterr().err


@pytest.mark.slow
def test_json_run_on_a_real_clip(real, tmp_path, capsys):
    out = tmp_path / "annotated.mp4"
    code = main(["count", str(MOTORWAY), "--line", "0,120,320,120", "--model", str(MODEL), "--stride", "2",
                 "--max-frames", "100", "--interval-s", "2", "--annotate", str(out), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["video"] == MOTORWAY.name and doc["frames"] == 100 and doc["stride"] == 2
    assert doc["stride_choice"]["mode"] == "fixed" and doc["stride_choice"]["reason"] == "set by --stride"
    assert {"wall_s", "ms_per_frame", "fps", "health"} <= set(doc) and doc["health"]["state"] == "ok"
    (line,) = doc["lines"]
    assert set(line) == {"name", "in", "out", "by_class"} and line["name"] == "line1"
    assert [iv["start_s"] for iv in doc["intervals"]] == [0.0, 2.0]
    assert out.stat().st_size > 10_000, "the annotated video was written because it was asked for"


def test_greenwave_help_imports_no_detector_stack():
    code = ("import sys; from greenwave.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('ultralytics', 'torch', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
