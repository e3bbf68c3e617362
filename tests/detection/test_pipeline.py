"""The whole pipeline on synthetic frames with a scripted detector (real Ultralytics tracker)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detection.cli import run_to_dict
from detection.config import CameraConfig, make_line
from detection.detections import Detections
from detection.pipeline import CountingPipeline, PipelineSettings
from detection.sources import Frame, StreamLost
from traffic.counts import Health

pytest.importorskip("ultralytics", reason="the tracker comes from the 'detect' extra")

FPS = 10.0


class ScriptedSource:
    """100 noisy frames at 10 fps; a stream drop after frame 60 when ``drop`` is set."""

    name, fps, is_live = "scripted", FPS, False

    def __init__(self, n=100, drop=False):
        self.n, self.drop, self.frames_read = n, drop, 0
        self.rng = np.random.default_rng(0)

    def frames(self, stride=1):
        for i in range(self.n):
            self.frames_read = i + 1
            if self.drop and i == 60:
                yield StreamLost(i / FPS, 1, "test")
            if i % stride == 0:
                yield Frame(i, i / FPS, self.rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))


class ScriptedDetector:
    """A car moving down (y 20 -> 220) and a motorbike moving up (y 220 -> 20), 2 px per source frame."""

    max_batch = 3

    def __init__(self, stride=1):
        self.i, self.stride = 0, stride

    def detect(self, images):
        out = []
        for _ in images:
            y_down, y_up = 20 + 2 * self.stride * self.i, 220 - 2 * self.stride * self.i
            out.append(Detections.from_arrays([[80, y_down - 12, 120, y_down + 12], [200, y_up - 12, 216, y_up + 12]],
                                              [0.9, 0.8], [0, 1]))
            self.i += 1
        return out


LINE = make_line("mid", (0, 120), (320, 120), in_key="S_through", out_key="N_through")
CAMERA = CameraConfig("cam1", (LINE,), intersection="I1")


def run(drop=False, **kw):
    settings = PipelineSettings(crop_to_region=False, interval_s=5.0, **kw)
    return CountingPipeline(CAMERA, ScriptedDetector(settings.stride), settings).run(ScriptedSource(drop=drop))


def test_counts_both_directions_with_classes_and_intervals():
    result = run()
    (total,) = result.line_totals(CAMERA)
    assert (total.in_count, total.out_count) == (1, 1)
    assert total.by_class == {"car": {"in": 1, "out": 0}, "motorcycle": {"in": 0, "out": 1}}
    crossing = {e.direction.value: e.frame_index for e in result.events}
    assert abs(crossing["in"] - 50) <= 2 and abs(crossing["out"] - 50) <= 2, "crossings at y=120, frame 50"
    assert [iv.start_s for iv in result.intervals] == [0.0, 5.0]
    second = result.intervals[1]
    assert second.vehicles("S_through") == 1 and second.vehicles("N_through") == 1
    assert second.flow_veh_h("S_through") == pytest.approx(720.0) and second.flow_pcu_h("N_through") == \
        pytest.approx(0.3 * 720.0)
    assert result.health.state is Health.OK and result.frames_read == 100 and result.frames_processed == 100


def test_only_counts_leave_the_pipeline_and_json_is_serialisable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run()
    doc = json.loads(json.dumps(run_to_dict(result, CAMERA)))
    assert doc["lines"][0] == {"name": "mid", "in": 1, "out": 1,
                               "by_class": {"car": {"in": 1, "out": 0}, "motorcycle": {"in": 0, "out": 1}}}
    assert set(doc) >= {"video", "frames", "fps", "wall_s", "ms_per_frame", "lines", "health"}
    assert not any(isinstance(v, np.ndarray) and v.ndim >= 2 and v.size > 100 for v in vars(result).values())
    assert list(tmp_path.iterdir()) == [], "no frame is written anywhere"


def test_stride_and_stream_loss():
    result = run(stride=2, drop=True)
    (total,) = result.line_totals(CAMERA)
    assert (total.in_count, total.out_count) == (1, 1) and result.frames_processed == 50
    assert result.health.lost_events == 1 and result.health.frames_by_state["lost"] == 1


def test_intervals_are_delivered_as_they_complete():
    seen = []
    settings = PipelineSettings(crop_to_region=False, interval_s=2.0)
    result = CountingPipeline(CAMERA, ScriptedDetector(), settings).run(ScriptedSource(), on_interval=seen.append)
    assert [iv.start_s for iv in seen] == [0.0, 2.0, 4.0, 6.0, 8.0] and tuple(seen) == result.intervals
    assert sum(iv.vehicles("S_through") for iv in seen) == 1, "the settled count lands in exactly one interval"
