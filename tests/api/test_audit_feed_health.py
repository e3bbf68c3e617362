"""Audit log (append-only), live feed over WebSocket, health and metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import T0, plan_body

I1 = "/api/v1/intersections/I1"


def test_every_change_is_audited_with_before_and_after(api_any_db):
    api = api_any_db
    eng, op = api.as_("engineer"), api.as_("operator")
    api.client.post(f"{I1}/plans", json=plan_body("w"), headers=eng)
    api.client.put(f"{I1}/plans/w", json=plan_body("w", 42), headers={**eng, "If-Match": '"1"'})
    api.client.post(f"{I1}/plans/w/activate", headers=op)
    api.client.put(f"{I1}/mode", json={"mode": "manual"}, headers=op)
    entries = api.client.get("/api/v1/audit?limit=4", headers=op).json()
    assert [e["action"] for e in entries] == ["mode", "activate", "plan_edit", "plan_propose"]
    mode, act, edit, prop = entries
    assert mode["actor"] == "operator" and mode["before"] == {"mode": "fixed"} and mode["after"] == {"mode": "manual"}
    assert act["before"]["plan"] == "zero" and act["after"]["plan"] == "w" and act["after"]["version"] == 2
    assert edit["before"]["version"] == 1 and edit["after"]["phases"][0]["green_s"] == 42
    assert prop["before"] is None and prop["target"] == "intersection/I1/plan/w" and prop["at"] == T0


def test_audit_is_append_only(api_any_db):
    api = api_any_db
    api.client.put(f"{I1}/mode", json={"mode": "manual"}, headers=api.as_("admin"))
    for method in ("PUT", "PATCH", "DELETE"):
        assert api.client.request(method, "/api/v1/audit", headers=api.as_("admin")).status_code == 405
    for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
        with api.ctx.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(sql))
            conn.commit()


def test_feed_pushes_phase_changes_counts_and_plans(api):
    token = api.as_("viewer")["Authorization"].split()[1]
    with api.client.websocket_connect(f"/api/v1/feed?token={token}") as ws:
        first = [ws.receive_json() for _ in range(6)]
        assert {m["intersection"] for m in first} == {f"I{k}" for k in range(1, 7)}
        assert first[0]["type"] == "phase" and first[0]["phase_name"] == "MAIN_green"
        api.clock.advance(51.0)  # the main green (50 s) ends: yellow
        msg = ws.receive_json()
        while msg["intersection"] != "I1":
            msg = ws.receive_json()
        assert msg["type"] == "phase" and msg["interval"] == "yellow"
        api.client.post(f"{I1}/plans/greenwave/activate", headers=api.as_("operator"))
        seen = set()
        while not {"plan", "audit"} <= seen:
            seen.add(ws.receive_json()["type"])


def test_feed_refuses_a_bad_token(api):
    with pytest.raises(WebSocketDisconnect), api.client.websocket_connect("/api/v1/feed?token=bad") as ws:
        ws.receive_json()


def test_metrics_are_prometheus_text(api):
    api.client.get("/api/v1/intersections", headers=api.as_("viewer"))
    r = api.client.get("/api/v1/metrics", headers=api.as_("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'greenwave_http_requests_total{method="GET",status="200"}' in r.text
    assert "greenwave_http_request_seconds_bucket" in r.text


def test_errors_never_show_a_stack_trace(make_api):
    gen = make_api()
    api = next(gen)

    def boom(*_a, **_k):
        raise RuntimeError("secret internals")

    api.ctx.live.status = boom
    client = TestClient(api.client.app, raise_server_exceptions=False)  # as a real server answers
    r = client.get(f"{I1}/status", headers=api.as_("viewer"))
    assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
    gen.close()


def test_dashboard_is_served_without_external_resources(api):
    page = api.client.get("/")
    assert page.status_code == 200 and "Greenwave" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        body = api.client.get(asset).text
        assert "http://" not in body.replace("http://www.w3.org/2000/svg", "") and "https://" not in body
