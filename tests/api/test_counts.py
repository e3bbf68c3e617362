"""Counts ingestion: batched, idempotent, per-camera credentials, limits; and what status makes of it."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from api.db import CountInterval, CountRow
from tests.api.conftest import T0

MOVES = ["W_I1>I1_I2", "I2_I1>I1_W", "N1_I1>I1_S1"]


def batch(camera: str, batch_id: str, starts=(T0 - 60.0,), n: int = 10) -> dict:
    return {"camera": camera, "batch_id": batch_id,
            "intervals": [{"start_s": s, "duration_s": 60.0, "health": "ok",
                           "counts": {m: {"car": n, "motorcycle": 2 * n} for m in MOVES}} for s in starts]}


def camera_id(api) -> str:
    return next(c for c, i in api.ctx.live.cameras.items() if i == "I1")


def stored(api) -> tuple[int, int]:
    with api.ctx.sessions() as db:
        return (db.scalar(select(func.count()).select_from(CountInterval)),
                db.scalar(select(func.sum(CountRow.vehicles))) or 0)


def test_batch_is_stored_once_even_when_resent(api_any_db):
    api = api_any_db
    key = {"X-API-Key": api.camera_key}
    body = batch(camera_id(api), "b-1", starts=(T0 - 120.0, T0 - 60.0))
    r = api.client.post("/api/v1/counts", json=body, headers=key)
    assert r.status_code == 201 and r.json()["stored_intervals"] == 2
    assert stored(api) == (2, 2 * 3 * 30)
    again = api.client.post("/api/v1/counts", json=body, headers=key)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert stored(api) == (2, 2 * 3 * 30)
    # a new batch that repeats an interval already stored only adds the new one
    r = api.client.post("/api/v1/counts", json=batch(camera_id(api), "b-2", starts=(T0 - 60.0, T0)), headers=key)
    assert r.status_code == 201 and r.json()["stored_intervals"] == 1 and r.json()["skipped_intervals"] == 1
    assert stored(api) == (3, 3 * 3 * 30)


def test_concurrent_resends_store_one_copy(api_any_db):
    api = api_any_db
    key = {"X-API-Key": api.camera_key}
    body = batch(camera_id(api), "race")
    codes: list[int] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        barrier.wait()
        codes.append(api.client.post("/api/v1/counts", json=body, headers=key).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 200, 201]
    assert stored(api) == (1, 90)


def test_status_shows_counts_vc_los_and_camera_health(api):
    r = api.client.post("/api/v1/counts", json=batch(camera_id(api), "b", n=5), headers={"X-API-Key": api.camera_key})
    assert r.status_code == 201
    st = api.client.get("/api/v1/intersections/I1/status", headers=api.as_("viewer")).json()
    assert st["counts"]["vehicles"]["W_I1>I1_I2"] == 15
    assert st["cameras"] == [{"camera": camera_id(api), "health": "ok", "last_interval_end_s": T0}]
    groups = {g["id"]: g for g in st["lane_groups"]}
    assert all(g["los"] in "ABCDEF" for g in groups.values()) and st["los"] in "ABCDEF"
    api.clock.advance(60 * 10)  # silent for 10 intervals: reported lost
    st = api.client.get("/api/v1/intersections/I1/status", headers=api.as_("viewer")).json()
    assert st["cameras"][0]["health"] == "lost"
    rows = api.client.get("/api/v1/intersections/I1/counts", headers=api.as_("viewer")).json()
    assert rows[0]["counts"]["W_I1>I1_I2"] == {"car": 5, "motorcycle": 10}


def test_a_camera_may_only_push_its_own_counts(api):
    r = api.client.post("/api/v1/counts", json=batch("someone-else", "b"), headers={"X-API-Key": api.camera_key})
    assert r.status_code == 403
    r = api.client.post("/api/v1/counts", json=batch(camera_id(api), "b"), headers=api.as_("admin"))
    assert r.status_code == 403
    bad_key = api.camera_key[:-4] + "AAAA"
    assert api.client.post("/api/v1/counts", json=batch(camera_id(api), "b"),
                           headers={"X-API-Key": bad_key}).status_code == 401
    assert api.client.post("/api/v1/counts", json=batch(camera_id(api), "b"),
                           headers={"X-API-Key": "junk"}).status_code == 401


def test_input_limits(make_api):
    gen = make_api(max_batch_intervals=3, max_body_bytes=20_000)
    api = next(gen)
    key = {"X-API-Key": api.camera_key}
    cam = camera_id(api)
    r = api.client.post("/api/v1/counts", json=batch(cam, "big", starts=[T0 - 60.0 * k for k in range(1, 5)]),
                        headers=key)
    assert r.status_code == 413 and "at most 3" in r.json()["detail"]
    huge = batch(cam, "huge")
    huge["intervals"][0]["counts"] = {m: {f"class{k}": 1 for k in range(1000)} for m in MOVES}
    assert api.client.post("/api/v1/counts", json=huge, headers=key).status_code == 413
    unknown = batch(cam, "u")
    unknown["intervals"][0]["counts"]["not_a_movement"] = {"car": 1}
    assert api.client.post("/api/v1/counts", json=unknown, headers=key).status_code == 422
    negative = batch(cam, "n")
    negative["intervals"][0]["counts"][MOVES[0]] = {"car": -1}
    assert api.client.post("/api/v1/counts", json=negative, headers=key).status_code == 422
    twice = batch(cam, "t", starts=(T0, T0))
    assert api.client.post("/api/v1/counts", json=twice, headers=key).status_code == 422
    assert stored(api) == (0, 0)
    gen.close()


def test_rate_limit_per_credential(make_api):
    gen = make_api(rate_per_s=1.0, rate_burst=3.0)
    api = next(gen)
    codes = [api.client.get("/api/v1/intersections", headers=api.as_("viewer")).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    # another credential has its own bucket
    assert api.client.get("/api/v1/intersections", headers=api.as_("operator")).status_code == 200
    api.clock.advance(2.0)
    assert api.client.get("/api/v1/intersections", headers=api.as_("viewer")).status_code == 200
    gen.close()
