"""Simulation and optimisation jobs run in worker processes and survive a restart as 'failed, re-run'."""

from __future__ import annotations

import json
import time

import pytest

from api.db import Job
from api.main import create_app
from tests.api.conftest import start_api


def wait_done(api, job_id: int, timeout_s: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api.client.get(f"/api/v1/jobs/{job_id}", headers=api.as_("viewer")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.slow
def test_simulation_and_optimisation_jobs_run_in_workers(sqlite_url, clock):
    gen = start_api(sqlite_url, clock, job_workers=1)
    api = next(gen)
    eng = api.as_("engineer")
    r = api.client.post("/api/v1/jobs/simulation", json={"seeds": 2, "duration_s": 120,
                                                         "plans": {"I1": "greenwave"}}, headers=eng)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert api.client.get(f"/api/v1/jobs/{r.json()['id']}/result", headers=eng).status_code == 409
    job = wait_done(api, r.json()["id"])
    assert job["status"] == "succeeded" and job["progress"] == 1.0, job
    result = api.client.get(f"/api/v1/jobs/{job['id']}/result", headers=eng).json()
    assert "metrics" in result and len(result["runs"]) == 2
    r = api.client.post("/api/v1/jobs/optimization", json={"method": "webster"}, headers=eng)
    job = wait_done(api, r.json()["id"])
    assert job["status"] == "succeeded", job
    plans = api.client.get(f"/api/v1/jobs/{job['id']}/result", headers=eng).json()["plans"]
    assert set(plans) == {f"I{k}" for k in range(1, 7)}
    gen.close()


def test_job_requests_are_validated(api):
    eng = api.as_("engineer")
    assert api.client.post("/api/v1/jobs/simulation", json={"seeds": 50}, headers=eng).status_code == 422
    assert api.client.post("/api/v1/jobs/simulation", json={"plans": {"I9": "x"}}, headers=eng).status_code == 422
    assert api.client.post("/api/v1/jobs/simulation", json={"plans": {"I1": "x"}}, headers=eng).status_code == 422
    assert api.client.post("/api/v1/jobs/optimization", json={"use_counts": True}, headers=eng).status_code == 422
    assert api.client.get("/api/v1/jobs/999", headers=eng).status_code == 404


def test_running_jobs_become_failed_after_a_restart_and_can_be_rerun(api):
    eng = api.as_("engineer")
    r = api.client.post("/api/v1/jobs/simulation", json={"seeds": 1, "duration_s": 60}, headers=eng)
    job_id = r.json()["id"]
    with api.ctx.sessions() as db:  # as if a worker had claimed it when the server died
        db.get(Job, job_id).status = "running"
        db.commit()
    app = create_app(api.ctx.settings)  # a new server process on the same database
    with app.state.ctx.sessions() as db:
        job = db.get(Job, job_id)
        assert job.status == "failed" and "re-run" in job.error
    r = api.client.get(f"/api/v1/jobs/{job_id}", headers=eng)
    assert r.json()["status"] == "failed"
    again = api.client.post(f"/api/v1/jobs/{job_id}/rerun", headers=eng)
    assert again.status_code == 202 and again.json()["status"] == "queued" and again.json()["id"] != job_id
    with api.ctx.sessions() as db:
        assert json.loads(db.get(Job, again.json()["id"]).request) == json.loads(db.get(Job, job_id).request)
    assert api.client.post(f"/api/v1/jobs/{again.json()['id']}/rerun", headers=eng).status_code == 409
    app.state.ctx.engine.dispose()
