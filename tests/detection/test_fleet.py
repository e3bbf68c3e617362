"""``greenwave count-cameras``: the CAMERAS.json schema, the counts pusher, camera restarts on Dask, and
counts reaching a real API server (scripted frames; the real detector on a real clip, slow)."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detection.batching import BatchSettings
from detection.detections import Detections
from detection.errors import CameraConfigError, VideoSourceError
from detection.fleet_config import load_fleet
from detection.push import CountsPusher, PushError, PushRejected, batch_id
from detection.sources import Backoff, Frame
from greenwave.cli.main import main
from tests.detection.conftest import FREEWAY, MODEL
from traffic.counts import IntervalCounts

IN_KEY, OUT_KEY = "W_I1>I1_I2", "I2_I1>I1_W"  # movements of the arterial's I1, as the API checks them
# the epoch time of frame 0: an hour ago, on the hour (the API refuses intervals outside its clock window)
ANCHOR_S = float(int(time.time()) // 3600 * 3600 - 3600)


def camera_config(path: Path, intersection: str | None = "I1", line=((0, 120), (320, 120))) -> Path:
    path.write_text(json.dumps({"camera": path.stem, "intersection": intersection,
                                "lines": [{"name": "mid", "start": list(line[0]), "end": list(line[1]),
                                           "in_key": IN_KEY, "out_key": OUT_KEY}]}))
    return path


def cameras_file(tmp_path: Path, cameras: list[dict], **top) -> Path:
    camera_config(tmp_path / "cam.json")
    path = tmp_path / "cameras.json"
    path.write_text(json.dumps({**top, "cameras": cameras}))
    return path


def cam(cid: str, **kw) -> dict:
    return {"id": cid, "source": kw.pop("source", "clip.mp4"), "config": "cam.json", "intersection": "I1",
            **({"credential": "gwk_x.y"} if "credential_env" not in kw else {}), **kw}


# --- CAMERAS.json --------------------------------------------------------------------------------


def test_cameras_file_resolves_paths_credentials_and_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_TEST_KEY", "gwk_abc.secret")
    (tmp_path / "model.tflite").write_bytes(b"x")
    path = cameras_file(tmp_path, [cam("cam-1", credential_env="GW_TEST_KEY"),
                                   cam("cam-2", source="rtsp://u:p@10.0.0.2/s", stride=3, interval_s=30)],
                        model="model.tflite", interval_s=60, stride="auto", max_frames=900,
                        restart={"max_restarts": 5, "initial_s": 0.5})
    fleet = load_fleet(path, "http://api:8000/", ANCHOR_S)
    a, b = fleet.jobs
    assert (a.camera_id, a.api_key, a.intersection, a.api_url) == ("cam-1", "gwk_abc.secret", "I1", "http://api:8000")
    assert a.source == str(tmp_path / "clip.mp4") and a.model == str(tmp_path / "model.tflite")
    assert (a.stride, a.interval_s, a.max_frames, a.epoch_anchor_s) == (None, 60.0, 900, ANCHOR_S)
    assert a.camera.lines[0].in_key == IN_KEY
    assert (b.source, b.api_key, b.stride, b.interval_s) == ("rtsp://u:p@10.0.0.2/s", "gwk_x.y", 3, 30.0)
    assert "gwk_" not in repr(a), "the key never shows in logs"
    assert fleet.restart.max_restarts == 5 and fleet.restart.backoff.delay_s(2) == 1.0
    assert a.batch is None and b.batch is None, "batching is off unless asked for"
    plain = load_fleet(cameras_file(tmp_path, [cam("c")], model="yolo11n.pt"), "http://a", 0.0)
    assert plain.jobs[0].model == "yolo11n.pt", "a model name Ultralytics downloads stays as given"
    batched = load_fleet(cameras_file(tmp_path, [cam("c"), cam("d")], batch={"size": 16}), "http://a", 0.0)
    assert [j.batch for j in batched.jobs] == [BatchSettings(16, 20.0)] * 2, "max_wait_ms defaults to 20"


@pytest.mark.parametrize(("cameras", "top", "message"), [
    ([], {}, "cameras: List should have at least 1 item"),
    ([cam("a", credential_env="X_UNSET_FOR_TEST")], {}, "cameras[0].credential_env: environment variable "
                                                        "X_UNSET_FOR_TEST is not set"),
    ([{**cam("a"), "credential_env": "K"}], {}, "give exactly one of credential and credential_env"),
    ([{k: v for k, v in cam("a").items() if k != "credential"}], {}, "give exactly one of credential"),
    ([cam("a"), cam("a")], {}, "camera id(s) given twice: a"),
    ([cam("bad id!")], {}, "cameras[0].id: String should match pattern"),
    ([cam("a", config="missing.json")], {}, "cameras[0].config: "),
    ([cam("a", intersection="I2")], {}, "its camera config counts for intersection 'I1', not 'I2'"),
    ([cam("a", stride=0)], {}, "cameras[0].stride: must be >= 1"),
    ([cam("a", nonsense=1)], {}, "cameras[0].nonsense: Extra inputs are not permitted"),
    ([cam("a")], {"restart": {"max_restarts": -1}}, "restart.max_restarts: Input should be greater than or equal"),
    ([cam("a", interval_s=0)], {}, "cameras[0].interval_s: Input should be greater than 0"),
    ([cam("a")], {"batch": {"size": 0}}, "batch.size: Input should be greater than or equal to 1"),
    ([cam("a")], {"batch": {"size": 512}}, "batch.size: Input should be less than or equal to 256"),
    ([cam("a")], {"batch": {"max_wait_ms": 5}}, "batch.size: Field required"),
    ([cam("a")], {"batch": {"size": 8, "max_wait_ms": -1}}, "batch.max_wait_ms: Input should be greater than"),
    ([cam("a")], {"batch": {"size": 8, "max_wait_ms": float("nan")}}, "batch.max_wait_ms: Input should be a finite"),
    ([cam("a")], {"batch": {"size": 8, "wait": 5}}, "batch.wait: Extra inputs are not permitted"),
    ([cam("a", batch={"size": 8})], {}, "cameras[0].batch: Extra inputs are not permitted"),  # per process, not camera
])
def test_cameras_file_errors_name_the_field(tmp_path, cameras, top, message, monkeypatch):
    monkeypatch.delenv("X_UNSET_FOR_TEST", raising=False)
    with pytest.raises(CameraConfigError) as err:
        load_fleet(cameras_file(tmp_path, cameras, **top), "http://a", 0.0)
    assert message in str(err.value) and str(tmp_path / "cameras.json") in str(err.value)


def test_unreadable_cameras_file(tmp_path):
    with pytest.raises(CameraConfigError, match="cannot read cameras file"):
        load_fleet(tmp_path / "none.json", "http://a", 0.0)
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(CameraConfigError, match="not valid JSON"):
        load_fleet(tmp_path / "bad.json", "http://a", 0.0)


def test_models_that_cannot_batch_fall_back_to_a_detector_per_camera_saying_so_once(tmp_path, caplog):
    from detection.fleet import unbatchable_off

    (tmp_path / "m.tflite").write_bytes(b"not an export")  # no metadata: a fixed batch of 1 is assumed
    cameras = [cam("a"), cam("b"), cam("c", model="m.pt")]
    fleet = load_fleet(cameras_file(tmp_path, cameras, model="m.tflite", batch={"size": 8}), "http://a", 0.0)
    caplog.set_level(logging.INFO, logger="greenwave.fleet")
    kept = unbatchable_off(fleet)
    assert [j.batch for j in kept.jobs] == [None, None, BatchSettings(8, 20.0)], "the .pt model batches"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "batched inference is off for" in warnings[0] and "m.tflite" in warnings[0]
    assert "fixed batch of 1" in warnings[0] and "each camera runs its own detector" in warnings[0]
    assert unbatchable_off(kept) == kept and len(caplog.records) == 1, "nothing left to say the second time"


@pytest.mark.parametrize(("args", "message"), [
    (["missing.json", "--api", "http://127.0.0.1:1"], "cannot read cameras file"),
    (["cameras.json", "--api", "ftp://x"], "--api 'ftp://x': expected an http:// or https:// URL"),
    (["cameras.json", "--api", "http://a", "--workers", "0"], "--workers must be >= 1"),
    (["cameras.json", "--api", "http://a", "--batch-size", "0"], "--batch-size must be from 1 to 256 (got 0)"),
    (["cameras.json", "--api", "http://a", "--batch-size", "300"], "--batch-size must be from 1 to 256 (got 300)"),
    (["cameras.json", "--api", "http://a", "--batch-size", "8", "--batch-wait-ms", "-5"],
     "--batch-wait-ms must be from 0 to 10000 (got -5)"),
    (["cameras.json", "--api", "http://a", "--batch-size", "8", "--batch-wait-ms", "inf"],
     "--batch-wait-ms must be from 0 to 10000 (got inf)"),
    (["cameras.json", "--api", "http://a", "--batch-wait-ms", "5"], "--batch-wait-ms needs batching"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    cameras_file(tmp_path, [cam("a")])
    assert main(["count-cameras", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


# --- the pusher ----------------------------------------------------------------------------------


class FakeApi:
    """Records POSTs; answers from a script of statuses (then 201), or raises OSError for ``"down"``."""

    def __init__(self, script=()):
        self.script, self.bodies, self.stored = list(script), [], {}

    def __call__(self, url, body, headers, timeout_s):
        self.bodies.append((url, body, headers))
        answer = self.script.pop(0) if self.script else 201
        if answer == "down":
            raise ConnectionRefusedError("connection refused")
        if answer != 201:
            return answer, json.dumps({"detail": f"scripted {answer}"})
        fresh = [iv for iv in body["intervals"] if iv["start_s"] not in self.stored]
        for iv in fresh:
            self.stored[iv["start_s"]] = iv
        return 201, json.dumps({"status": "stored", "stored_intervals": len(fresh)})


def interval(start_s: float, n: int = 3) -> IntervalCounts:
    return IntervalCounts("cam", start_s, 10.0, {IN_KEY: {"car": n}}, "I1")


def test_pusher_sends_in_order_with_the_camera_key_and_unix_times():
    api = FakeApi()
    pusher = CountsPusher("http://api/", "cam-1", "gwk_k.s", ANCHOR_S, post=api)
    for k in range(3):
        pusher.submit(interval(10.0 * k, n=k))
    stats = pusher.close(5.0)
    assert stats.stored_intervals == 3 and stats.dropped_intervals == 0
    url, body, headers = api.bodies[0]
    assert url == "http://api/api/v1/counts" and headers == {"X-API-Key": "gwk_k.s"} and body["camera"] == "cam-1"
    sent = [iv for _, b, _ in api.bodies for iv in b["intervals"]]
    assert [iv["start_s"] for iv in sent] == [ANCHOR_S, ANCHOR_S + 10, ANCHOR_S + 20]
    assert sent[2]["counts"] == {IN_KEY: {"car": 2}} and sent[2]["health"] == "ok" and sent[2]["duration_s"] == 10.0
    assert batch_id("cam-1", sent[:1]) == batch_id("cam-1", [dict(sent[0])]) != batch_id("cam-2", sent[:1])


def test_pusher_rides_out_an_api_outage_without_losing_or_repeating_intervals():
    api = FakeApi(["down", 503, "down", 429])
    pusher = CountsPusher("http://api", "cam-1", "k", ANCHOR_S, post=api,
                          backoff=Backoff(initial_s=0.01, factor=1.0, max_s=0.01))
    for k in range(5):
        pusher.submit(interval(10.0 * k))
    pusher.close(10.0)
    assert sorted(api.stored) == [ANCHOR_S + 10.0 * k for k in range(5)]
    ids = [b["batch_id"] for _, b, _ in api.bodies]
    assert len(api.bodies) >= 5 and len(set(ids)) < len(ids), "a failed batch is resent under the same id"


@pytest.mark.parametrize("status", [401, 403, 409, 422])
def test_pusher_stops_on_a_refusal_and_raises_it(status):
    api = FakeApi([status])
    pusher = CountsPusher("http://api", "cam-1", "k", ANCHOR_S, post=api)
    pusher.submit(interval(0.0))
    with pytest.raises(PushRejected, match=rf"refused the counts \({status}\): scripted {status}"):
        pusher.close(5.0)
    with pytest.raises(PushRejected):
        pusher.submit(interval(10.0))
    assert len(api.bodies) == 1


def test_pusher_reports_undelivered_intervals_at_the_deadline():
    pusher = CountsPusher("http://api", "cam-1", "k", ANCHOR_S, post=FakeApi(["down"] * 1000),
                          backoff=Backoff(initial_s=0.05, factor=1.0, max_s=0.05))
    pusher.submit(interval(0.0))
    with pytest.raises(PushError, match=r"1 interval\(s\) not delivered .*ConnectionRefusedError"):
        pusher.close(0.3)


# --- cameras on Dask, against a real API server --------------------------------------------------


FPS = 10.0


class ScriptedSource:
    """``n`` noisy frames at 10 fps (None: endless, as a live stream); ``fail_at`` raises a decode error there."""

    fps = FPS

    def __init__(self, name: str, fail_at: int | None = None, n: int | None = 120):
        self.name, self.fail_at, self.n, self.frames_read = name, fail_at, n, 0
        self.is_live = n is None
        self.rng = np.random.default_rng(0)

    def frames(self, stride=1):
        for i in itertools.count() if self.n is None else range(self.n):
            if i == self.fail_at:
                raise VideoSourceError(f"{self.name}: decoding failed at frame {i} (test)")
            self.frames_read = i + 1
            if i % stride == 0:
                yield Frame(i, i / FPS, self.rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))


class ScriptedDetector:
    """A car moving down across y = 120 at frame 25 and a motorbike moving up across it at frame 25."""

    max_batch = 4

    def __init__(self, job=None):
        self.i = 0

    def detect(self, images):
        out = []
        for _ in images:
            out.append(self.boxes(self.i))
            self.i += 1
        return out

    @staticmethod
    def boxes(i: int) -> Detections:
        y_down, y_up = 20 + 4 * i, 220 - 4 * i
        return Detections.from_arrays([[80, y_down - 12, 120, y_down + 12], [200, y_up - 12, 216, y_up + 12]],
                                      [0.9, 0.8], [0, 1])


def scripted_source(spec: str) -> ScriptedSource:
    """``ok``; ``live`` (endless); ``broken`` (never opens); ``flaky:DIR`` (fails at frame 80 on its first
    attempt only)."""
    if spec == "live":
        return ScriptedSource(spec, n=None)
    if spec == "broken":
        raise VideoSourceError("broken: cannot open as video (test)")
    if spec.startswith("flaky:"):
        marker = Path(spec.split(":", 1)[1]) / "flaky-failed-once"
        if not marker.exists():
            marker.touch()
            return ScriptedSource(spec, fail_at=80)
    return ScriptedSource(spec)


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """``greenwave serve`` in its own process, with a viewer and four cameras at I1."""
    pytest.importorskip("ultralytics", reason="the tracker comes from the 'detect' extra")
    pytest.importorskip("distributed", reason="needs the 'dask' extra (pip install 'greenwave[dask]')")
    pytest.importorskip("httpx", reason="the API's test client")
    from api.main import build_context
    from api.routes.admin import create_camera, create_user
    from api.settings import Settings
    from tests.api.server import Server

    db = f"sqlite:///{tmp_path_factory.mktemp('fleet-api') / 'gw.db'}"
    ctx = build_context(Settings(db_url=db, scenario="arterial", job_workers=0))
    with ctx.sessions() as s:
        create_user(s, "viewer", "viewer", "viewer-password", "test", time.time())
        keys = {c: create_camera(ctx, s, c, "I1", "test")["api_key"]
                for c in ("cam-good", "cam-flaky", "cam-broken", "cam-wrongkey", "cam-real", "cam-live",
                          "cam-batch-file", "cam-batch-live", "cam-pt-a", "cam-pt-b")}
    ctx.engine.dispose()
    server = Server(db, "--rate-limit", "1000").start()
    try:
        yield server, keys
    finally:
        server.stop()


def stored_counts(server, camera: str) -> list[dict]:
    import httpx

    rows = httpx.get(server.url + "/api/v1/intersections/I1/counts", params={"limit": 500},
                     headers=server.token("viewer", "viewer-password"), timeout=30).json()
    return sorted((r for r in rows if r["camera"] == camera), key=lambda r: r["start_s"])


def vehicles(rows: list[dict], key: str) -> int:
    return sum(sum(r["counts"].get(key, {}).values()) for r in rows)


def test_failed_cameras_restart_with_backoff_and_counts_reach_the_api_once(api_server, tmp_path, caplog):
    from distributed import Client

    from detection.fleet import run_fleet

    server, keys = api_server
    specs = {"cam-good": "ok", "cam-flaky": f"flaky:{tmp_path}", "cam-broken": "broken", "cam-wrongkey": "ok"}
    cameras = [cam(c, source=s, credential=keys[c] if c != "cam-wrongkey" else "gwk_nobody.secret", interval_s=5)
               for c, s in specs.items()]
    fleet = load_fleet(cameras_file(tmp_path, cameras, restart={"max_restarts": 2, "initial_s": 0.05}),
                       server.url, ANCHOR_S)
    fleet = replace(fleet, jobs=tuple(replace(j, source=specs[j.camera_id], stride=1) for j in fleet.jobs))
    caplog.set_level(logging.INFO, logger="greenwave.fleet")
    with Client(processes=False, n_workers=1, threads_per_worker=4, dashboard_address=":0") as client:
        statuses = {s.camera_id: s for s in run_fleet(client, fleet, task_kwargs={
            "open_source": scripted_source, "make_detector": ScriptedDetector})}
    good, flaky, broken, wrong = (statuses[c] for c in specs)
    assert (good.state, good.attempts, good.errors) == ("done", 1, [])
    assert good.result.frames_read == 120 and good.result.intervals == 3 and good.result.stored_intervals == 3
    assert (flaky.state, flaky.attempts) == ("done", 2) and "decoding failed at frame 80" in flaky.errors[0]
    assert (flaky.result.intervals, flaky.result.stored_intervals) == (3, 2), \
        "the first attempt stored [0, 5 s) before failing; the API skipped it when the restart sent it again"
    assert (broken.state, broken.attempts) == ("failed", 3), "1 attempt + max_restarts 2"
    assert broken.errors == ["VideoSourceError: broken: cannot open as video (test)"] * 3
    assert (wrong.state, wrong.attempts) == ("failed", 1), "a refused key is not retried"
    assert "refused the counts (401)" in wrong.errors[0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("cam-broken: attempt 1 failed" in m and "restart 1 of 2 in 0.05 s" in m for m in messages)
    assert any("cam-broken: attempt 2 failed" in m and "restart 2 of 2 in 0.1 s" in m for m in messages), \
        "back-off doubles from restart.initial_s"
    assert any("cam-broken: failed for good after 3 attempt(s)" in m for m in messages)

    stored = stored_counts(server, "cam-good")
    assert [r["start_s"] for r in stored] == [ANCHOR_S, ANCHOR_S + 5, ANCHOR_S + 10]
    assert vehicles(stored, IN_KEY) == 1 and vehicles(stored, OUT_KEY) == 1, "the car in, the motorbike out"
    assert stored[0]["counts"][IN_KEY] == {"car": 1} and stored[0]["counts"][OUT_KEY] == {"motorcycle": 1}
    again = stored_counts(server, "cam-flaky")
    assert [r["start_s"] for r in again] == [ANCHOR_S, ANCHOR_S + 5, ANCHOR_S + 10], "no interval twice"
    assert vehicles(again, IN_KEY) == 1 and vehicles(again, OUT_KEY) == 1, "the restart counted nothing twice"
    assert stored_counts(server, "cam-broken") == [] and stored_counts(server, "cam-wrongkey") == []


def test_ctrl_c_stops_a_live_camera_cleanly_with_its_counts_delivered(api_server, tmp_path, monkeypatch):
    from distributed import Client

    from detection import fleet as fleet_module

    server, keys = api_server
    fleet = load_fleet(cameras_file(tmp_path, [cam("cam-live", credential=keys["cam-live"], interval_s=5)]),
                       server.url, ANCHOR_S)
    fleet = replace(fleet, jobs=tuple(replace(j, source="live", stride=1) for j in fleet.jobs))
    waits = []
    real_wait = fleet_module._Supervisor.wait_first

    def interrupted_wait(self, timeout_s):  # Ctrl-C while the supervisor waits, once the camera has counted
        waits.append(timeout_s)
        if len(waits) == 1:
            deadline = time.monotonic() + 60
            while not stored_counts(server, "cam-live") and time.monotonic() < deadline:
                time.sleep(0.2)
            raise KeyboardInterrupt
        return real_wait(self, timeout_s)

    monkeypatch.setattr(fleet_module._Supervisor, "wait_first", interrupted_wait)
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as client:
        (status,) = fleet_module.run_fleet(client, fleet, task_kwargs={
            "open_source": scripted_source, "make_detector": ScriptedDetector}, grace_s=60)
    assert (status.state, status.attempts, status.errors) == ("stopped", 1, [])
    assert status.result.stopped and status.result.frames_read > 0
    stored = stored_counts(server, "cam-live")
    assert len(stored) == status.result.stored_intervals == status.result.intervals, "every interval delivered"
    assert vehicles(stored, IN_KEY) == 1 and vehicles(stored, OUT_KEY) == 1


class IndexedSource(ScriptedSource):
    """120 frames whose pixels hold the frame index (channel 0) and the camera number (channel 1)."""

    def __init__(self, spec: str):
        kind, number = spec.split(":")
        super().__init__(spec)
        self.is_live, self.number = kind == "indexed-live", int(number)

    def frames(self, stride=1):
        for i in range(0, self.n, stride):
            self.frames_read = i + 1
            image = np.zeros((240, 320, 3), np.uint8)
            image[..., 0], image[..., 1] = i, self.number
            yield Frame(i, i / FPS, image)


SHARED_LOADS: list[int] = []
SHARED_CALLS: list[list[tuple[int, int]]] = []


class SharedScriptedDetector:
    """``ScriptedDetector``'s car and motorbike, placed by the frame index read from the pixels, for any
    number of cameras at once; records each call's (camera, frame) pairs."""

    max_batch = 8

    def __init__(self, job=None):
        SHARED_LOADS.append(1)

    def detect(self, images):
        SHARED_CALLS.append([(int(im[0, 0, 1]), int(im[0, 0, 0])) for im in images])
        return [ScriptedDetector.boxes(int(im[0, 0, 0])) for im in images]


def test_batched_cameras_share_one_detector_per_process_and_count_as_alone(api_server, tmp_path):
    from distributed import Client

    from detection.batching import shared_fronts
    from detection.fleet import run_fleet

    server, keys = api_server
    specs = {"cam-batch-file": "indexed:1", "cam-batch-live": "indexed-live:2"}
    fleet = load_fleet(cameras_file(tmp_path, [cam(c, credential=keys[c], interval_s=5) for c in specs],
                                    model="shared.pt", batch={"size": 8, "max_wait_ms": 50}), server.url, ANCHOR_S)
    fleet = replace(fleet, jobs=tuple(replace(j, source=specs[j.camera_id], stride=1) for j in fleet.jobs))
    SHARED_LOADS.clear()
    SHARED_CALLS.clear()
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as client:
        statuses = run_fleet(client, fleet, task_kwargs={
            "open_source": IndexedSource, "make_detector": ScriptedDetector,
            "make_shared_detector": SharedScriptedDetector})
    for st in statuses:
        assert (st.state, st.attempts, st.errors) == ("done", 1, []), st
        assert st.result.batched and st.result.frames_read == 120 and st.result.vehicles == 2
        assert st.result.shared_detector == statuses[0].result.shared_detector is not None
        stored = stored_counts(server, st.camera_id)
        assert vehicles(stored, IN_KEY) == 1 and vehicles(stored, OUT_KEY) == 1, "as ScriptedDetector counts alone"
    assert SHARED_LOADS == [1], "one detector for the process, not one per camera"
    assert shared_fronts() == 0, "released when the last camera ended"
    seen = sorted(p for call in SHARED_CALLS for p in call)
    assert seen == sorted((c, i) for c in (1, 2) for i in range(120)), "every frame detected exactly once"
    assert max(len(call) for call in SHARED_CALLS) <= 8
    assert any(len({c for c, _ in call}) == 2 for call in SHARED_CALLS), "frames of both cameras shared a call"
    live_calls = [call for call in SHARED_CALLS if any(c == 2 for c, _ in call)]
    assert all(sum(c == 2 for c, _ in call) == 1 for call in live_calls), "a live camera sends one frame at a time"


@pytest.mark.slow
def test_real_detector_counts_the_freeway_clip_into_the_api_through_the_cli(api_server, tmp_path, real):
    """The shipped detector on the 15-s freeway clip (24 vehicles southbound by hand) at stride 4; the
    file asks for batching, which the TFLite export cannot do: it falls back and says so."""
    server, keys = api_server
    camera_config(tmp_path / "freeway.json", line=((250, 450), (850, 450)))
    (tmp_path / "cameras.json").write_text(json.dumps({
        "model": str(MODEL), "interval_s": 5, "stride": 4, "batch": {"size": 4},
        "cameras": [{"id": "cam-real", "source": str(FREEWAY), "config": "freeway.json", "intersection": "I1",
                     "credential_env": "GW_TEST_CAM_REAL"}]}))
    out = subprocess.run([sys.executable, "-c", "import sys; from greenwave.cli.main import main; sys.exit(main())",
                          "count-cameras", str(tmp_path / "cameras.json"), "--api", server.url, "--workers", "1",
                          "--json"], capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "GW_TEST_CAM_REAL": keys["cam-real"], "YOLO_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    (row,) = json.loads(out.stdout)["cameras"]
    assert (row["state"], row["restarts"], row["frames"], row["stride"], row["batched"]) == ("done", 0, 450, 4, False)
    assert "batched inference is off for" in out.stderr and "fixed batch of 1" in out.stderr
    stored = stored_counts(server, "cam-real")
    assert len(stored) == row["stored_intervals"] == row["intervals"] == 3  # 15 s in 5-s intervals
    assert vehicles(stored, IN_KEY) == row["vehicles"] == 24, "as test_real_video's ground truth at stride 4"
    assert "cam-real: done after 450 frame(s), 3 interval(s) stored" in out.stderr


@pytest.mark.slow
def test_batched_cameras_through_the_cli_count_as_a_detector_of_their_own(api_server, tmp_path, pt_model):
    """Two cameras on the freeway clip, the converted PyTorch model batched in one Dask worker process
    (--batch-size): each counts the vehicles its own detector counts on the same frames."""
    from detection.config import load_camera_config
    from detection.detector import YoloDetector
    from detection.pipeline import CountingPipeline, PipelineSettings
    from detection.sources import VideoFileSource

    server, keys = api_server
    lines = {"cam-pt-a": ((250, 450), (850, 450)), "cam-pt-b": ((260, 450), (860, 450))}  # crops of one size
    for cid, line in lines.items():
        camera_config(tmp_path / f"{cid}.json", line=line)
    (tmp_path / "cameras.json").write_text(json.dumps({
        "model": str(pt_model), "interval_s": 5, "stride": 2, "max_frames": 120,
        "cameras": [{"id": cid, "source": str(FREEWAY), "config": f"{cid}.json", "intersection": "I1",
                     "credential_env": f"GW_TEST_{cid[-1].upper()}"} for cid in lines]}))
    out = subprocess.run([sys.executable, "-c", "import sys; from greenwave.cli.main import main; sys.exit(main())",
                          "count-cameras", str(tmp_path / "cameras.json"), "--api", server.url, "--batch-size", "4",
                          "--batch-wait-ms", "200", "--json"], capture_output=True, text=True, timeout=300,
                         check=False, env={**os.environ, "GW_TEST_A": keys["cam-pt-a"], "GW_TEST_B": keys["cam-pt-b"],
                                           "YOLO_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["camera"]: r for r in json.loads(out.stdout)["cameras"]}
    detectors = {r["shared_detector"] for r in rows.values()}
    assert len(detectors) == 1 and None not in detectors, "one worker process, one model load, shared"
    assert all(1 < r["frames_per_call"] <= 4 for r in rows.values()), rows
    alone = YoloDetector(pt_model, device="cpu")
    for cid in lines:
        run = CountingPipeline(load_camera_config(tmp_path / f"{cid}.json"), alone,
                               PipelineSettings(stride=2, max_frames=120)).run(VideoFileSource(FREEWAY))
        assert len(run.events) >= 3
        row = rows[cid]
        assert (row["state"], row["batched"], row["frames"]) == ("done", True, 120)
        assert row["vehicles"] == len(run.events) == vehicles(stored_counts(server, cid), IN_KEY)
