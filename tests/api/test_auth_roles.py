"""Authentication (password flow, expiry, API keys) and every role boundary (a lower role gets 403)."""

from __future__ import annotations

import pytest

from api.security import issue_token
from tests.api.conftest import ROLES, plan_body

I1 = "/api/v1/intersections/I1"


def test_login_issues_an_expiring_token_and_is_audited(api):
    r = api.client.post("/api/v1/auth/token", data={"username": "operator", "password": "operator-password"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=h).json() == {"name": "operator", "role": "operator",
                                                                  "camera": None}
    bad = api.client.post("/api/v1/auth/token", data={"username": "operator", "password": "nope-nope"})
    assert bad.status_code == 401 and "Traceback" not in bad.text
    assert api.client.post("/api/v1/auth/token", data={"username": "ghost", "password": "x" * 9}).status_code == 401
    actions = [e["action"] for e in api.client.get("/api/v1/audit", headers=h).json()]
    assert actions[:3] == ["login_unknown_user", "login_failed", "login"]
    api.clock.advance(api.ctx.settings.token_ttl_s + 1)
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}, {"X-API-Key": "gwk_x.y"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_everything_but_health_needs_credentials(api, headers):
    for path in ("/api/v1/intersections", f"{I1}/status", f"{I1}/plans", "/api/v1/audit", "/api/v1/metrics",
                 "/api/v1/jobs", "/api/v1/users", "/api/v1/status"):
        assert api.client.get(path, headers=headers).status_code == 401, path
    assert api.client.get("/api/v1/health/live").status_code == 200
    assert api.client.get("/api/v1/health/ready").json()["status"] == "ready"


def test_forged_token_is_refused(api):
    forged = issue_token("not-the-server-secret", "admin", "admin", "0" * 32, api.clock(), 3600)
    assert api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


# (method, path, json body, lowest role allowed): each row is one role boundary
BOUNDARIES = [
    ("POST", f"{I1}/plans/greenwave/activate", None, "operator"),
    ("POST", f"{I1}/rollback", None, "operator"),
    ("PUT", f"{I1}/mode", {"mode": "manual"}, "operator"),
    ("POST", f"{I1}/plans", plan_body("roles"), "engineer"),
    ("PUT", f"{I1}/plans/zero", plan_body("zero"), "engineer"),
    ("PUT", f"{I1}/schedule", {"entries": []}, "engineer"),
    ("POST", "/api/v1/jobs/simulation", {"seeds": 1}, "engineer"),
    ("POST", "/api/v1/jobs/optimization", {"method": "webster"}, "engineer"),
    ("POST", "/api/v1/jobs/1/rerun", None, "engineer"),
    ("GET", "/api/v1/users", None, "admin"),
    ("POST", "/api/v1/users", {"name": "new", "role": "viewer", "password": "Orbital-Lantern-7"}, "admin"),
    ("GET", "/api/v1/cameras", None, "admin"),
    ("POST", "/api/v1/cameras", {"id": "cam-new", "intersection": "I1"}, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "lowest"), BOUNDARIES, ids=[f"{b[0]} {b[1]}" for b in BOUNDARIES])
def test_lower_roles_get_403(api, method, path, body, lowest):
    for role in ROLES[:ROLES.index(lowest)]:
        r = api.client.request(method, path, json=body, headers=api.as_(role))
        assert r.status_code == 403, (role, r.text)
    r = api.client.request(method, path, json=body, headers={"X-API-Key": api.camera_key})
    assert r.status_code == 403
    r = api.client.request(method, path, json=body, headers=api.as_(lowest))
    assert r.status_code not in (401, 403), r.text


def test_viewer_reads_everything_readable(api):
    for path in ("/api/v1/intersections", f"{I1}", f"{I1}/status", f"{I1}/plans", f"{I1}/plans/zero",
                 f"{I1}/schedule", f"{I1}/counts", "/api/v1/status", "/api/v1/corridor", "/api/v1/audit",
                 "/api/v1/jobs", "/api/v1/metrics"):
        assert api.client.get(path, headers=api.as_("viewer")).status_code == 200, path


def test_admin_creates_users_and_cameras(api):
    adm = api.as_("admin")
    r = api.client.post("/api/v1/users", json={"name": "zoe", "role": "operator", "password": "Orbital-Lantern-7"},
                        headers=adm)
    assert r.status_code == 201 and "password" not in r.text
    assert api.client.post("/api/v1/users", json={"name": "zoe", "role": "viewer", "password": "Orbital-Lantern-7"},
                           headers=adm).status_code == 409
    login = api.client.post("/api/v1/auth/token", data={"username": "zoe", "password": "Orbital-Lantern-7"})
    assert login.status_code == 200
    r = api.client.post("/api/v1/cameras", json={"id": "cam-9", "intersection": "I2"}, headers=adm)
    assert r.status_code == 201 and r.json()["api_key"].startswith("gwk_")
    again = api.client.post("/api/v1/cameras", json={"id": "cam-9", "intersection": "I2"}, headers=adm)
    assert again.status_code == 409
    unknown = api.client.post("/api/v1/cameras", json={"id": "cam-x", "intersection": "ZZ"}, headers=adm)
    assert unknown.status_code == 422
    assert "key_hash" not in api.client.get("/api/v1/cameras", headers=adm).text
