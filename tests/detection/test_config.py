"""Camera configs: valid files load; every malformed one gives one precise CameraConfigError."""

from __future__ import annotations

import json

import pytest

from detection.config import CameraConfig, load_camera_config, make_line, parse_line_arg
from detection.errors import CameraConfigError

VALID = {
    "camera": "cam1", "intersection": "I1",
    "lines": [{"name": "north", "start": [250, 450], "end": [850, 450], "in_key": "N_I1>I1_S", "out_key": None}],
    "zones": [{"name": "left_box", "polygon": [[10, 10], [90, 10], [90, 60]], "key": "N_left"}],
}


def write(tmp_path, doc, name="cam.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_valid_json_config(tmp_path):
    cam = load_camera_config(write(tmp_path, VALID))
    assert cam.camera_id == "cam1" and cam.intersection == "I1"
    (line,) = cam.lines
    assert (line.start_px, line.end_px, line.in_key, line.out_key) == ((250, 450), (850, 450), "N_I1>I1_S", None)
    assert cam.zones[0].key == "N_left" and cam.detect_region_px is None


def test_yaml_config_and_default_keys(tmp_path):
    pytest.importorskip("yaml")
    text = "camera: c\nlines:\n  - name: l\n    start: [0, 10]\n    end: [100, 10]\ndetect_region: [0, 0, 320, 240]\n"
    cam = load_camera_config(write(tmp_path, text, "cam.yaml"))
    assert (cam.lines[0].in_key, cam.lines[0].out_key) == ("l:in", "l:out")
    assert cam.detect_region_px == (0, 0, 320, 240)


def with_line(**changes):
    line = {**VALID["lines"][0], **changes}
    return {**VALID, "lines": [line]}


@pytest.mark.parametrize(("rule", "doc", "message"), [
    ("not JSON", "{lines: ", "not valid JSON"),
    ("unknown field", {**VALID, "colour": "red"}, "colour: Extra inputs are not permitted"),
    ("camera id required", {"lines": VALID["lines"]}, "camera: Field required"),
    ("a point has two numbers", with_line(start=[1, 2, 3]), "lines[0].start"),
    ("a line needs length", with_line(end=[250, 450]), "less than 1 px apart"),
    ("pixels are not negative", with_line(start=[-5, 450]), "must not be negative"),
    ("hysteresis is >= 0", with_line(hysteresis_px=-1), "hysteresis_px (=-1.0) must be >= 0"),
    ("at least one line or zone", {"camera": "c"}, "at least one count line or zone"),
    ("names are unique", {**VALID, "zones": [{"name": "north", "polygon": [[0, 0], [9, 0], [9, 9]]}]},
     "duplicate line/zone name(s) north"),
    ("a zone has 3 points", {**VALID, "zones": [{"name": "z", "polygon": [[0, 0], [9, 0]]}]}, "at least 3 points"),
    ("a zone has area", {**VALID, "zones": [{"name": "z", "polygon": [[0, 0], [5, 0], [10, 0]]}]}, "no area"),
    ("detect region is big enough", {**VALID, "detect_region": [0, 0, 10, 10]}, "at least 32 px"),
])
def test_config_errors(tmp_path, rule, doc, message):
    with pytest.raises(CameraConfigError) as exc:
        load_camera_config(write(tmp_path, doc))
    assert message in str(exc.value), rule
    assert str(tmp_path) in str(exc.value), "the message names the file"


def test_missing_file(tmp_path):
    with pytest.raises(CameraConfigError, match="cannot read camera config"):
        load_camera_config(tmp_path / "nope.json")


def test_cli_line_argument():
    line = parse_line_arg("250,450,850,450", 1)
    assert (line.name, line.start_px, line.end_px, line.in_key) == ("line1", (250, 450), (850, 450), "line1:in")
    with pytest.raises(CameraConfigError, match="expected four numbers"):
        parse_line_arg("1,2,3", 1)


def test_camera_config_validates_in_code_too():
    with pytest.raises(CameraConfigError):
        CameraConfig("c", (make_line("a", (0, 0), (10, 0)), make_line("a", (0, 5), (10, 5))))
