"""Crash recovery: SIGKILL the server during a burst of plan edits and count pushes, then restart.

Every acknowledged write must be there after the restart, and nothing half-written: each stored plan
version has its audit entry, each stored batch has all its intervals and rows.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import fresh_db_url, plan_body
from tests.api.server import Server, greenwave

pytestmark = pytest.mark.slow
MOVES = ["W_I1>I1_I2", "I2_I1>I1_W", "N1_I1>I1_S1"]
INTERVALS_PER_BATCH = 2
OLD_DATA = ("--max-interval-age-s", "1e10")


@pytest.fixture(params=["sqlite", "postgresql"])
def crash_db(request, tmp_path) -> str:
    return fresh_db_url(request.param, tmp_path)


def test_acknowledged_writes_survive_sigkill(crash_db):
    db = crash_db
    for user, role in (("eng", "engineer"), ("op", "operator")):
        out = greenwave("users", "create", user, "--role", role, "--password-stdin", "--db", db, stdin="Crash-pass-4\n")
        assert out.returncode == 0, out.stderr
    key = greenwave("cameras", "create", "cam-1", "--intersection", "I1", "--db", db)
    assert key.returncode == 0, key.stderr
    key = key.stdout.strip()
    # the batches are dated from 2001 on (one stream of distinct intervals per worker): widen the age window
    server = Server(db, "--rate-limit", "10000", *OLD_DATA).start()
    try:
        eng, op = server.token("eng", "Crash-pass-4"), server.token("op", "Crash-pass-4")
        assert httpx.post(server.url + "/api/v1/intersections/I1/plans", json=plan_body("crash", 30), headers=eng,
                          timeout=30).status_code == 201
        acked_versions: dict[int, float] = {1: 30.0}
        acked_batches: list[str] = []
        acked_activations: list[float] = []
        stop = threading.Event()

        def edit_plans() -> None:
            version = 1
            with httpx.Client(base_url=server.url, timeout=10) as c:
                while not stop.is_set():
                    green = 30.0 + (version % 20)
                    try:
                        r = c.put("/api/v1/intersections/I1/plans/crash", json=plan_body("crash", green),
                                  headers={**eng, "If-Match": f'"{version}"'})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        version = r.json()["version"]
                        acked_versions[version] = green

        def push_counts(worker: int) -> None:
            k = 0
            with httpx.Client(base_url=server.url, timeout=10) as c:
                while not stop.is_set():
                    k += 1
                    bid = f"w{worker}-{k}"
                    start = 1e9 + (worker * 100000 + k) * 60.0 * INTERVALS_PER_BATCH
                    body = {"camera": "cam-1", "batch_id": bid, "intervals": [
                        {"start_s": start + 60.0 * j, "duration_s": 60.0,
                         "counts": {m: {"car": k % 7 + 1, "motorcycle": 2} for m in MOVES}}
                        for j in range(INTERVALS_PER_BATCH)]}
                    try:
                        r = c.post("/api/v1/counts", json=body, headers={"X-API-Key": key})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        acked_batches.append(bid)

        def activate() -> None:
            with httpx.Client(base_url=server.url, timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/api/v1/intersections/I1/plans/greenwave/activate", headers=op)
                    except httpx.HTTPError:
                        return
                    if r.status_code == 202:
                        acked_activations.append(r.json()["effective_at_s"])

        threads = [threading.Thread(target=edit_plans), threading.Thread(target=activate),
                   *(threading.Thread(target=push_counts, args=(w,)) for w in range(3))]
        for t in threads:
            t.start()
        time.sleep(3.0)
        server.kill()  # SIGKILL in the middle of the burst
        stop.set()
        for t in threads:
            t.join(30)
        assert len(acked_versions) > 3 and len(acked_batches) > 3 and acked_activations
    finally:
        server.kill()

    server = Server(db, *OLD_DATA).start()  # restart on the same database
    try:
        eng = server.token("eng", "Crash-pass-4")
        latest = httpx.get(server.url + "/api/v1/intersections/I1/plans/crash", headers=eng, timeout=30).json()
        assert latest["version"] >= max(acked_versions)
        for version, green in acked_versions.items():
            r = httpx.get(server.url + f"/api/v1/intersections/I1/plans/crash?version={version}", headers=eng,
                          timeout=30)
            assert r.status_code == 200 and r.json()["phases"][0]["green_s"] == green
        status = httpx.get(server.url + "/api/v1/intersections/I1/status", headers=eng, timeout=30)
        assert status.status_code == 200
    finally:
        server.stop()

    engine = create_engine(db)
    with engine.connect() as conn:
        versions = [r[0] for r in conn.execute(text(
            "SELECT version FROM plans WHERE intersection = 'I1' AND name = 'crash' ORDER BY version"))]
        assert versions == list(range(1, len(versions) + 1))  # no gaps, no duplicates
        audited = {json.loads(r[0])["version"] for r in conn.execute(text(
            "SELECT after FROM audit WHERE target = 'intersection/I1/plan/crash'"))}
        assert audited == set(versions)  # every stored version was audited in the same transaction
        batches = {r[0]: r[1] for r in conn.execute(text("SELECT batch_id, id FROM count_batches"))}
        assert set(acked_batches) <= set(batches)
        for batch_pk in batches.values():  # acknowledged or not, a stored batch is complete
            n_int = conn.execute(text("SELECT count(*) FROM count_intervals WHERE batch_pk = :b"), {"b": batch_pk})
            assert n_int.scalar() == INTERVALS_PER_BATCH
            n_rows = conn.execute(text("SELECT count(*) FROM count_rows r JOIN count_intervals i ON "
                                       "r.interval_id = i.id WHERE i.batch_pk = :b"), {"b": batch_pk})
            assert n_rows.scalar() == INTERVALS_PER_BATCH * len(MOVES) * 2
        acts = conn.execute(text("SELECT count(*) FROM activations WHERE kind = 'activate'")).scalar()
        assert acts >= len(acked_activations)
        audit_acts = conn.execute(text("SELECT count(*) FROM audit WHERE action = 'activate'")).scalar()
        assert audit_acts == acts
    engine.dispose()
