"""Inputs that must never do harm: every bad request is a 4xx naming the field, a camera clock far ahead never
becomes the "latest" interval, missing counts are reported as missing, LOS and v/c are per PCU, schedules run
in the deployment's time zone."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.control import apply_schedules
from api.db import CountBatch, CountInterval, CountRow, Job
from api.jobs import _optimization
from tests.api.conftest import T0, plan_body, start_api

BASE = "/api/v1/intersections/I1"
HUGE = 2**70  # larger than any SQL integer column
YEAR_4822_S = datetime(4822, 1, 1).timestamp()
MOVE = "W_I1>I1_I2"


def raw(client: TestClient, method: str, path: str, body: object | None, headers: dict[str, str]):
    """Send ``body`` as Python's json writes it (NaN and Infinity literals included)."""
    content = None if body is None else json.dumps(body)
    return client.request(method, path, content=content, headers={**headers, "content-type": "application/json"})


def _plan(field: str, value: float) -> dict:
    body = plan_body("bad")
    if field in ("cycle_s", "offset_s"):
        body[field] = value
    else:
        body["phases"][0][field] = value
    return body


BAD_REQUESTS = [
    ("post", f"{BASE}/plans", _plan("cycle_s", math.nan), "cycle_s"),
    ("post", f"{BASE}/plans", _plan("offset_s", math.nan), "offset_s"),
    ("post", f"{BASE}/plans", _plan("green_s", math.nan), "green_s"),
    ("post", f"{BASE}/plans", _plan("green_s", math.inf), "green_s"),
    ("post", f"{BASE}/plans", _plan("yellow_s", -math.inf), "yellow_s"),
    ("post", f"{BASE}/plans", _plan("all_red_s", 1e308), "all_red_s"),
    ("get", f"{BASE}/plans/zero?version={HUGE}", None, "version"),
    ("post", f"{BASE}/plans/zero/activate", {"version": HUGE}, "version"),
    ("post", f"{BASE}/plans/zero/activate", {"version": 2**40}, "version"),
    ("get", f"{BASE}/counts?since_s=nan", None, "since_s"),
    ("get", f"/api/v1/jobs/{HUGE}", None, "job_id"),
    ("get", f"/api/v1/jobs/{HUGE}/result", None, "job_id"),
    ("post", "/api/v1/jobs/optimization", {"cycle_s": math.nan}, "cycle_s"),
    ("post", "/api/v1/jobs/simulation", {"duration_s": math.inf}, "duration_s"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_REQUESTS,
                         ids=[f"{m} {p.split('/v1')[1]} {f}" for m, p, _, f in BAD_REQUESTS])
def test_non_finite_numbers_and_huge_ids_are_422_naming_the_field(api_any_db, method, path, body, field):
    api = api_any_db  # SQLite and PostgreSQL: their integer columns overflow at different sizes
    client = TestClient(api.client.app, raise_server_exceptions=False)
    r = raw(client, method, path, body, api.as_("admin"))
    assert r.status_code == 422, r.text
    assert field in r.text and "Traceback" not in r.text
    assert not any(p["name"] == "bad" for p in api.client.get(f"{BASE}/plans", headers=api.as_("viewer")).json())


def test_an_interval_with_nan_counts_or_queues_is_422(api):
    client = TestClient(api.client.app, raise_server_exceptions=False)
    cam = next(c for c, i in api.ctx.live.cameras.items() if i == "I1")
    body = batch(cam, "nan", T0 - 60.0)
    body["intervals"][0]["queues_veh"] = {MOVE: math.nan}
    r = raw(client, "post", "/api/v1/counts", body, {"X-API-Key": api.camera_key})
    assert r.status_code == 422 and "queues_veh" in r.text


# --- counts from a camera whose clock is wrong -------------------------------------------------

def batch(camera: str, batch_id: str, start_s: float, counts: dict | None = None) -> dict:
    return {"camera": camera, "batch_id": batch_id,
            "intervals": [{"start_s": start_s, "duration_s": 60.0, "health": "ok",
                           "counts": counts or {MOVE: {"car": 5}}}]}


def camera_of(api) -> str:
    return next(c for c, i in api.ctx.live.cameras.items() if i == "I1")


@pytest.mark.parametrize(("start_s", "words"), [
    (YEAR_4822_S, "after the server's clock"),          # the year 4822
    (T0 + 3600.0, "after the server's clock"),          # an hour ahead
    (T0 - 30 * 86400.0, "before the server's clock"),   # a month old
])
def test_an_interval_outside_the_clock_skew_window_is_refused(api, start_s, words):
    key = {"X-API-Key": api.camera_key}
    r = api.client.post("/api/v1/counts", json=batch(camera_of(api), "skewed", start_s), headers=key)
    assert r.status_code == 422, r.text
    assert "intervals[0].start_s" in r.json()["detail"] and words in r.json()["detail"]
    with api.ctx.sessions() as db:
        assert db.query(CountInterval).count() == 0
    # within the window (a camera a minute ahead) is fine
    ok = api.client.post("/api/v1/counts", json=batch(camera_of(api), "ok", T0 + 60.0), headers=key)
    assert ok.status_code == 201


def test_a_stored_future_interval_never_hides_newer_data_across_a_restart(sqlite_url, clock):
    gen = start_api(sqlite_url, clock)
    api = next(gen)
    cam = camera_of(api)
    _store_future_interval(api, cam)
    fresh = batch(cam, "fresh", T0 - 60.0)
    assert api.client.post("/api/v1/counts", json=fresh, headers={"X-API-Key": api.camera_key}).status_code == 201
    gen.close()
    gen = start_api(sqlite_url, clock)  # a restart reads the latest intervals from the database
    try:
        api = next(gen)
        st = api.client.get(f"{BASE}/status", headers=api.as_("viewer")).json()
    finally:
        gen.close()
    assert st["counts"]["start_s"] == T0 - 60.0 and st["counts"]["vehicles"] == {MOVE: 5}
    cams = {c["camera"]: c for c in st["cameras"]}
    assert cams[cam]["last_interval_end_s"] == T0 and cams[cam]["health"] == "ok"


def _store_future_interval(api, cam: str) -> None:
    with api.ctx.sessions() as db:  # stored before the clock check existed: year 4822, 6000 veh/h
        b = CountBatch(camera=cam, batch_id="old", received_at=T0, intervals=1)
        db.add(b)
        db.flush()
        row = CountInterval(batch_pk=b.id, camera=cam, intersection="I1", start_s=YEAR_4822_S, duration_s=60.0,
                            health="ok", queues="{}")
        db.add(row)
        db.flush()
        db.add(CountRow(interval_id=row.id, movement=MOVE, vehicle_class="car", vehicles=100))
        db.commit()


# --- missing counts in optimisation ------------------------------------------------------------

def test_movements_without_counts_are_missing_not_zero_and_the_job_says_where_demand_came_from(api):
    eng = api.as_("engineer")
    cam = camera_of(api)
    key = {"X-API-Key": api.camera_key}
    old = {"I2_I1>I1_W": {"car": 9}}  # a good interval an hour ago, the last to count this movement
    assert api.client.post("/api/v1/counts", json=batch(cam, "old", T0 - 3600.0, old), headers=key).status_code == 201
    r = api.client.post("/api/v1/counts", json=batch(cam, "now", T0 - 60.0, {MOVE: {"car": 10, "motorcycle": 20}}),
                        headers=key)
    assert r.status_code == 201
    r = api.client.post("/api/v1/jobs/optimization", json={"method": "webster", "use_counts": True}, headers=eng)
    assert r.status_code == 202, r.text
    missing = r.json()["request"]["missing_movements"]
    assert MOVE not in missing and missing["I2_I1>I1_W"] == "last_good"
    assert missing["N1_I1>I1_S1"] == "scenario" and missing["I1_I2>I2_I3"] == "scenario"
    with api.ctx.sessions() as db:
        request = json.loads(db.get(Job, r.json()["id"]).request)
    scenario_flow = request["counts_veh_h"]["N1_I1>I1_S1"]
    assert scenario_flow > 0  # the scenario's flow, not zero
    assert request["counts_veh_h"]["I2_I1>I1_W"] == pytest.approx(9 * 60.0)
    assert request["counts_veh_h"][MOVE] == pytest.approx(30 * 60.0)
    assert request["counts_pcu_h"][MOVE] == pytest.approx((10 + 20 * 0.3) * 60.0)
    result = _optimization(api.ctx.scenario_ref, request)  # what the worker process runs
    assert result["demand"][MOVE] == {"source": "camera", "veh_h": 1800.0, "pcu_h": 960.0}
    assert result["demand"]["I2_I1>I1_W"]["source"] == "last_good"
    assert result["demand"]["N1_I1>I1_S1"] == {"source": "scenario", "veh_h": round(scenario_flow, 1),
                                               "pcu_h": pytest.approx(scenario_flow, abs=0.1)}
    assert result["missing_movements"] == missing


def test_unhealthy_recent_counts_are_not_used(api):
    cam = camera_of(api)
    body = batch(cam, "frozen", T0 - 60.0)
    body["intervals"][0]["health"] = "frozen"
    assert api.client.post("/api/v1/counts", json=body, headers={"X-API-Key": api.camera_key}).status_code == 201
    r = api.client.post("/api/v1/jobs/optimization", json={"use_counts": True}, headers=api.as_("engineer"))
    assert r.status_code == 422 and "health" in r.json()["detail"]


# --- PCU ---------------------------------------------------------------------------------------

def test_status_vc_and_los_are_per_pcu_for_motorbike_traffic(api):
    """85 % motorbikes (0.3 PCU each): v/c is the PCU flow over the PCU saturation flow, not vehicles."""
    counts = {MOVE: {"motorcycle": 17, "car": 3}}  # 20 vehicles a minute: 1200 veh/h, 486 PCU/h
    r = api.client.post("/api/v1/counts", json=batch(camera_of(api), "moto", T0 - 60.0, counts),
                        headers={"X-API-Key": api.camera_key})
    assert r.status_code == 201
    st = api.client.get(f"{BASE}/status", headers=api.as_("viewer")).json()
    group = next(g for g in st["lane_groups"] if MOVE in g["movements"])
    share = sum(1 for g in st["lane_groups"] if MOVE in g["movements"])
    flow_pcu = (17 * 0.3 + 3) * 60.0 / share
    cap = group["saturation_pcu_h"] * group["green_ratio"]
    assert group["flow_veh_h"] == pytest.approx(1200.0 / share, abs=0.1)
    assert group["flow_pcu_h"] == pytest.approx(flow_pcu, abs=0.1)
    assert group["v_c"] == pytest.approx(flow_pcu / cap, abs=2e-3)
    assert group["v_c"] < 1.0 and group["los"] != "F"  # per vehicle it would read 1200 / cap > 1: LOS F


# --- schedules ---------------------------------------------------------------------------------

def test_duplicate_schedule_times_are_refused(api):
    eng = {**api.as_("engineer"), "If-Match": '"s0"'}
    entries = [{"start": "07:00", "plan": "zero"}, {"start": "07:00", "plan": "greenwave"}]
    r = api.client.put(f"{BASE}/schedule", json={"entries": entries}, headers=eng)
    assert r.status_code == 422 and "07:00" in r.json()["detail"]
    assert api.client.get(f"{BASE}/schedule", headers=eng).json()["entries"] == []


def test_schedule_runs_in_the_deployment_time_zone_which_is_stored(sqlite_url, clock):
    # T0 + 10 s is 08:00:10 UTC, 15:00:10 in Ho Chi Minh City
    gen = start_api(sqlite_url, clock, time_zone="Asia/Ho_Chi_Minh")
    try:
        api = next(gen)
        eng = api.as_("engineer")
        entries = [{"start": "08:00", "plan": "zero"}, {"start": "15:00", "plan": "greenwave"}]
        r = api.client.put(f"{BASE}/schedule", json={"entries": entries}, headers={**eng, "If-Match": '"s0"'})
        assert r.status_code == 200 and r.json()["time_zone"] == "Asia/Ho_Chi_Minh"
        clock.advance(10.0)
        apply_schedules(api.ctx)
        st = api.client.get(f"{BASE}/status", headers=eng).json()
        assert st["pending"]["plan"] == "greenwave"  # 15:00 local, not 08:00 UTC
    finally:
        gen.close()
    gen = start_api(sqlite_url, clock)  # restarted without naming the zone: the stored one holds
    try:
        api = next(gen)
        assert api.ctx.time_zone == "Asia/Ho_Chi_Minh"
        r = api.client.get(f"{BASE}/schedule", headers=api.as_("viewer"))
        assert r.json()["time_zone"] == "Asia/Ho_Chi_Minh"
    finally:
        gen.close()


def test_an_unknown_time_zone_is_refused(sqlite_url, clock):
    with pytest.raises(ValueError, match="Mars/Olympus"):
        next(start_api(sqlite_url, clock, time_zone="Mars/Olympus"))


def test_serve_refuses_an_unknown_time_zone_in_one_line(tmp_path, capsys):
    from greenwave.cli.main import main

    db = tmp_path / "g.db"
    try:
        code = main(["serve", "--time-zone", "Mars/Olympus", "--db", f"sqlite:///{db}"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Mars/Olympus" in err and "--time-zone" in err
    assert not db.exists()
