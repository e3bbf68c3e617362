"""Security of the control API: the signing key outside the database, private database files, capped
token lifetime, sessions checked on every request, account operations, login limits, camera keys."""

from __future__ import annotations

import os
import stat
import uuid
from dataclasses import replace
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from api.db import AuditEntry, make_engine, migrate
from api.main import create_app
from api.security import issue_token
from api.settings import MAX_TOKEN_TTL_S, Settings
from api.signing_key import key_file_path, load_signing_key
from greenwave.cli.main import main
from tests.api.conftest import T0, user_token
from tests.api.test_counts import batch
from traffic.errors import TrafficError

TEN_YEARS_S = 10 * 365 * 86400


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forge(secret: str, now_s: float, **claims) -> str:
    body = {"sub": "admin", "role": "admin", "iat": int(now_s), "exp": int(now_s + TEN_YEARS_S), **claims}
    return jwt.encode(body, secret, algorithm="HS256")


def login(client: TestClient, user: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": user, "password": password})


def audit_count(api, *actions: str) -> int:
    with api.ctx.sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.in_(actions)))


def db_file(api) -> Path:
    return Path(api.ctx.engine.url.database)


# --- 1. secrets out of the database, private files, capped tokens -----------------------------------

def test_no_secret_in_the_database_signs_an_accepted_token(api):
    """Whoever can read the database file cannot mint a token: nothing in it signs one the server accepts."""
    with api.ctx.sessions() as db:
        stored = [v for (v,) in db.execute(text("SELECT value FROM meta"))]
    for value in stored:
        r = api.client.get("/api/v1/users", headers=bearer(forge(value, api.clock())))
        assert r.status_code == 401
    files = [p for p in db_file(api).parent.iterdir() if p.name.startswith(db_file(api).name) and p.suffix != ".key"]
    assert files
    for path in files:
        assert api.ctx.secret.encode() not in path.read_bytes(), path


def test_the_signing_key_lives_in_a_private_key_file(api):
    path = key_file_path(api.ctx.settings)
    assert path == db_file(api).with_name(db_file(api).name + ".key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == api.ctx.secret


def test_a_valid_signature_alone_is_not_enough(api):
    """Even with the real key: no token for a user that does not exist, none without a session, none that
    lives longer than the cap."""
    key, now = api.ctx.secret, api.clock()
    with api.ctx.sessions() as db:
        good = user_token(api.ctx, db, "admin")
    sid = jwt.decode(good, options={"verify_signature": False})["sid"]
    assert api.client.get("/api/v1/users", headers=bearer(good)).status_code == 200
    for forged in (forge(key, now, sub="ghost"),                                  # no such user, no session
                   forge(key, now),                                               # a real admin, no session
                   forge(key, now, sid=uuid.uuid4().hex),                         # a session that does not exist
                   forge(key, now, sid=sid),                                      # ten years
                   forge(key, now, sid=sid, exp=int(now + MAX_TOKEN_TTL_S + 60)),  # just over the cap
                   forge(key, now, sub="ghost", sid=sid, exp=int(now + 600)),     # another name on a session
                   forge(key, now, role="viewer", sid=sid, exp=int(now + 600))):  # another role on a session
        assert api.client.get("/api/v1/auth/me", headers=bearer(forged)).status_code == 401


def test_token_lifetime_is_capped():
    with pytest.raises(ValueError, match="token_ttl_s"):
        Settings(token_ttl_s=MAX_TOKEN_TTL_S + 1)
    with pytest.raises(ValueError):
        issue_token("k" * 40, "a", "admin", "s" * 32, T0, TEN_YEARS_S)


def test_migration_removes_a_secret_stored_by_the_old_schema(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    from alembic import command
    from alembic.config import Config

    from api.db import MIGRATIONS

    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('jwt_secret', 'the-old-secret-stored-in-plain-text')"))
    engine.dispose()
    app = create_app(Settings(db_url=url, job_workers=0, clock=clock))
    with app.state.ctx.sessions() as db:
        assert db.execute(text("SELECT count(*) FROM meta WHERE key = 'jwt_secret'")).scalar() == 0
    with TestClient(app) as client:
        r = client.get("/api/v1/auth/me", headers=bearer(forge("the-old-secret-stored-in-plain-text", clock())))
        assert r.status_code == 401


def test_database_files_are_created_private(tmp_path, clock):
    old = os.umask(0o022)  # a usual umask: files would be world-readable
    try:
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        app = create_app(Settings(db_url=url, job_workers=0, clock=clock))
        with app.state.ctx.sessions() as db:  # a write: the WAL has content
            db.execute(text("INSERT INTO meta (key, value) VALUES ('probe', 'x')"))
            db.commit()
            made = sorted(p.name for p in tmp_path.iterdir())
            assert {"gw.db", "gw.db-wal", "gw.db-shm", "gw.db.key"} <= set(made)
            for name in made:
                assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        app.state.ctx.engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused(tmp_path):
    key = tmp_path / "k.key"
    key.write_text("x" * 64)
    key.chmod(0o644)
    with pytest.raises(TrafficError, match="may be read by others"):
        load_signing_key(Settings(db_url=f"sqlite:///{tmp_path / 'gw.db'}", secret_key_file=str(key)))


def test_the_key_may_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENWAVE_SECRET_KEY", "e" * 40)
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'gw.db'}")
    assert load_signing_key(settings) == "e" * 40
    assert not key_file_path(settings).exists()
    monkeypatch.setenv("GREENWAVE_SECRET_KEY", "short")
    with pytest.raises(TrafficError, match="at least 32"):
        load_signing_key(Settings(db_url=f"sqlite:///{tmp_path / 'gw.db'}"))


def test_postgres_urls_use_the_configured_or_user_key_file(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    pg = "postgresql+psycopg://u@h/db"
    assert key_file_path(Settings(db_url=pg)) == tmp_path / "cfg" / "greenwave" / "secret.key"
    assert key_file_path(Settings(db_url=pg, secret_key_file=str(tmp_path / "x.key"))) == tmp_path / "x.key"
    load_signing_key(Settings(db_url=pg))
    assert stat.S_IMODE((tmp_path / "cfg" / "greenwave" / "secret.key").stat().st_mode) == 0o600


# --- every token checked against the user table, at once ------------------------------------------

def fresh_login(api, user: str, password: str) -> dict[str, str]:
    r = login(api.client, user, password)
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def test_disabling_a_user_ends_its_tokens_at_once(api):
    h = fresh_login(api, "operator", "operator-password")
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 200
    r = api.client.patch("/api/v1/users/operator", json={"disabled": True}, headers=api.as_("admin"))
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=api.as_("operator")).status_code == 401
    assert login(api.client, "operator", "operator-password").status_code == 401
    api.client.patch("/api/v1/users/operator", json={"disabled": False}, headers=api.as_("admin"))
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401  # enabling again opens no old session
    assert login(api.client, "operator", "operator-password").status_code == 200


def test_an_open_feed_closes_when_its_session_ends(api, monkeypatch):
    from starlette.websockets import WebSocketDisconnect

    import api.routes.feed as feed_module

    monkeypatch.setattr(feed_module, "SESSION_RECHECK_S", 0.05)
    token = fresh_login(api, "viewer", "viewer-password")["Authorization"].split()[1]
    with api.client.websocket_connect(f"/api/v1/feed?token={token}") as ws:
        ws.receive_json()  # the feed is open
        r = api.client.patch("/api/v1/users/viewer", json={"disabled": True}, headers=api.as_("admin"))
        assert r.status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
    assert closed.value.code == 4401


def test_deleting_a_user_ends_its_tokens_also_when_the_name_is_reused(api):
    h = fresh_login(api, "engineer", "engineer-password")
    assert api.client.delete("/api/v1/users/engineer", headers=api.as_("admin")).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401
    r = api.client.post("/api/v1/users", json={"name": "engineer", "role": "admin", "password": "Another-Pass-99"},
                        headers=api.as_("admin"))
    assert r.status_code == 201
    assert api.client.get("/api/v1/users", headers=h).status_code == 401
    assert api.client.delete("/api/v1/users/engineer", headers=api.as_("admin")).status_code == 204
    assert api.client.delete("/api/v1/users/nobody", headers=api.as_("admin")).status_code == 404


def test_a_role_change_takes_effect_at_once(api):
    h = fresh_login(api, "engineer", "engineer-password")
    assert api.client.post("/api/v1/jobs/optimization", json={"method": "webster"}, headers=h).status_code == 202
    r = api.client.patch("/api/v1/users/engineer", json={"role": "viewer"}, headers=api.as_("admin"))
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    assert api.client.post("/api/v1/jobs/optimization", json={"method": "webster"}, headers=h).status_code == 401
    h = fresh_login(api, "engineer", "engineer-password")
    assert api.client.post("/api/v1/jobs/optimization", json={"method": "webster"}, headers=h).status_code == 403
    king = api.client.patch("/api/v1/users/engineer", json={"role": "king"}, headers=api.as_("admin"))
    assert king.status_code == 422


def test_sessions_are_listed_and_revoked(api):
    h = fresh_login(api, "viewer", "viewer-password")
    adm = api.as_("admin")
    sessions = api.client.get("/api/v1/sessions?user=viewer", headers=adm).json()
    mine = [s for s in sessions if s["source"] == "testclient"]
    assert len(mine) == 1 and mine[0]["user"] == "viewer" and mine[0]["expires_at"] > api.clock()
    assert api.client.delete(f"/api/v1/sessions/{mine[0]['id']}", headers=adm).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert api.client.delete(f"/api/v1/sessions/{mine[0]['id']}", headers=adm).status_code == 404
    h = fresh_login(api, "viewer", "viewer-password")
    assert api.client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401
    actions = {e["action"] for e in api.client.get("/api/v1/audit?limit=50", headers=adm).json()}
    assert "session_revoke" in actions


def test_admin_password_reset_ends_sessions_and_needs_a_strong_password(api):
    adm = api.as_("admin")
    h = fresh_login(api, "operator", "operator-password")
    weak = api.client.put("/api/v1/users/operator/password", json={"password": "password1234"}, headers=adm)
    assert weak.status_code == 422 and "common" in weak.json()["detail"]
    assert api.client.put("/api/v1/users/operator/password", json={"password": "Tangerine-Bus-41"},
                          headers=adm).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert login(api.client, "operator", "operator-password").status_code == 401
    assert login(api.client, "operator", "Tangerine-Bus-41").status_code == 200


def test_own_password_change_needs_the_old_password(api):
    other = fresh_login(api, "operator", "operator-password")
    h = fresh_login(api, "operator", "operator-password")
    url = "/api/v1/auth/password"
    assert api.client.put(url, json={"old_password": "wrong-wrong-wrong", "new_password": "Tangerine-Bus-41"},
                          headers=h).status_code == 403
    weak = api.client.put(url, json={"old_password": "operator-password", "new_password": "short"}, headers=h)
    assert weak.status_code == 422 and "12 characters" in weak.json()["detail"]
    assert api.client.put(url, json={"old_password": "operator-password", "new_password": "Tangerine-Bus-41"},
                          headers=h).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 200  # this session stays
    assert api.client.get("/api/v1/auth/me", headers=other).status_code == 401  # the others end
    assert login(api.client, "operator", "Tangerine-Bus-41").status_code == 200
    actions = [e["action"] for e in api.client.get("/api/v1/audit?limit=50", headers=api.as_("admin")).json()]
    assert "password_change" in actions and "password_change_failed" in actions


@pytest.mark.parametrize(("body", "message"), [
    ({"name": "", "role": "viewer", "password": "Tangerine-Bus-41"}, "must not be empty"),
    ({"name": "bob smith", "role": "viewer", "password": "Tangerine-Bus-41"}, "user name"),
    ({"name": "bob", "role": "king", "password": "Tangerine-Bus-41"}, "role"),
    ({"name": "bob", "role": "admin", "password": "short-pw"}, "12 characters"),
    ({"name": "bob", "role": "admin", "password": "aaaaaaaaaaaaaa"}, "different characters"),
    ({"name": "bob", "role": "admin", "password": "123456789012"}, "consecutive"),
    ({"name": "bob", "role": "admin", "password": "Password2024!"}, "common"),
    ({"name": "bobbybobby", "role": "admin", "password": "bobbybobby12"}, "user name"),
])
def test_weak_accounts_are_refused(api, body, message):
    r = api.client.post("/api/v1/users", json=body, headers=api.as_("admin"))
    assert r.status_code == 422 and message in r.text
    assert body["name"] not in [u["name"] for u in api.client.get("/api/v1/users", headers=api.as_("admin")).json()]


def test_the_last_admin_cannot_be_disabled_demoted_or_deleted(api):
    adm = api.as_("admin")
    for method, path, body in (("PATCH", "/api/v1/users/admin", {"disabled": True}),
                               ("PATCH", "/api/v1/users/admin", {"role": "viewer"}),
                               ("DELETE", "/api/v1/users/admin", None)):
        r = api.client.request(method, path, json=body, headers=adm)
        assert r.status_code == 409 and "last enabled admin" in r.text
    assert api.client.get("/api/v1/auth/me", headers=adm).status_code == 200


# --- 3. logins: per-source and global limits with back-off, bounded audit -----------------------------

def client_from(api, address: str) -> TestClient:
    return TestClient(api.client.app, client=(address, 40000))


def test_random_user_names_are_limited_and_audited_in_bounded_rows(api):
    rows_before = audit_count(api, "login_failed", "login_unknown_user", "login_summary")
    codes = [login(api.client, f"user-{uuid.uuid4().hex[:10]}", "Whatever-pass-1").status_code for _ in range(1000)]
    assert codes.count(401) <= api.ctx.settings.login_free_failures + 1 and codes.count(429) >= 990
    refused = login(api.client, "someone", "Whatever-pass-1")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert audit_count(api, "login_failed", "login_unknown_user", "login_summary") - rows_before == 1
    api.clock.advance(api.ctx.settings.login_audit_window_s + 1)
    login(api.client, "someone", "Whatever-pass-1")  # any later login writes the summary of the window
    with api.ctx.sessions() as db:
        summary = db.scalars(select(AuditEntry).where(AuditEntry.action == "login_summary")).one()
    import json

    after = json.loads(summary.after)
    assert after["unknown_user"] + after["refused"] == 1001 and after["top_sources"] == {"testclient": 1001}


def test_many_addresses_meet_the_global_limit(make_api):
    api = next(make_api(login_burst=20.0, login_rate_per_s=1.0))
    rows_before = audit_count(api, "login_failed", "login_unknown_user", "login_summary")
    codes = [login(client_from(api, f"198.51.100.{k % 250}"), f"u{k}", "Whatever-pass-1").status_code
             for k in range(300)]
    assert codes.count(401) <= 20 and codes.count(429) >= 280
    assert audit_count(api, "login_failed", "login_unknown_user", "login_summary") - rows_before <= 10


def test_wrong_passwords_from_one_address_do_not_lock_the_user_out(api):
    attacker = client_from(api, "203.0.113.66")
    codes = [login(attacker, "operator", f"guess-{k}-Guess").status_code for k in range(12)]
    assert codes[:api.ctx.settings.login_free_failures] == [401] * api.ctx.settings.login_free_failures
    assert codes[-1] == 429
    assert login(attacker, "operator", "operator-password").status_code == 429  # the attacker waits
    operator = client_from(api, "192.0.2.10")
    assert login(operator, "operator", "operator-password").status_code == 200
    assert login(api.client, "operator", "operator-password").status_code == 200


def test_back_off_doubles_after_the_free_failures(api):
    attacker = client_from(api, "203.0.113.7")
    for _ in range(api.ctx.settings.login_free_failures):
        assert login(attacker, "operator", "not-the-password").status_code == 401
    waits = []
    for _ in range(5):
        assert login(attacker, "operator", "not-the-password").status_code == 401  # admitted, wrong
        r = login(attacker, "operator", "not-the-password")
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
        api.clock.advance(waits[-1])
    assert waits == [1, 2, 4, 8, 16]


# --- 4. camera keys: looked up per request --------------------------------------------------------

def cli(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_camera_created_by_the_cli_while_the_server_runs_can_push_at_once(api, monkeypatch, capsys):
    url = str(api.ctx.engine.url)
    code, out, err = cli(monkeypatch, capsys, "cameras", "create", "cam-live", "--intersection", "I1", "--db", url)
    assert code == 0, err
    key = {"X-API-Key": out.strip()}
    r = api.client.post("/api/v1/counts", json=batch("cam-live", "b-1", starts=(T0 - 60.0,)), headers=key)
    assert r.status_code == 201, r.text
    code, out, _ = cli(monkeypatch, capsys, "cameras", "rotate", "cam-live", "--db", url)
    assert code == 0 and out.strip().startswith("gwk_")
    assert api.client.post("/api/v1/counts", json=batch("cam-live", "b-2"), headers=key).status_code == 401
    new_key = {"X-API-Key": out.strip()}
    assert api.client.post("/api/v1/counts", json=batch("cam-live", "b-3", starts=(T0,)),
                           headers=new_key).status_code == 201
    assert cli(monkeypatch, capsys, "cameras", "revoke", "cam-live", "--db", url)[0] == 0
    assert api.client.post("/api/v1/counts", json=batch("cam-live", "b-4"), headers=new_key).status_code == 401


def test_cameras_are_revoked_and_rotated_through_the_api(api):
    adm, key = api.as_("admin"), {"X-API-Key": api.camera_key}
    cam = next(c["id"] for c in api.client.get("/api/v1/cameras", headers=adm).json())
    r = api.client.post(f"/api/v1/cameras/{cam}/revoke", headers=adm)
    assert r.status_code == 200 and r.json()["revoked"] is True and r.json()["api_key"] is None
    assert api.client.post(f"/api/v1/cameras/{cam}/revoke", headers=adm).status_code == 409
    assert api.client.post("/api/v1/counts", json=batch(cam, "x"), headers=key).status_code == 401
    r = api.client.post(f"/api/v1/cameras/{cam}/rotate", headers=adm)
    assert r.status_code == 200 and r.json()["revoked"] is False
    assert api.client.post("/api/v1/counts", json=batch(cam, "y"), headers={"X-API-Key": r.json()["api_key"]}
                           ).status_code == 201
    assert api.client.post("/api/v1/cameras/nope/rotate", headers=adm).status_code == 404
    actions = [e["action"] for e in api.client.get("/api/v1/audit?limit=20", headers=adm).json()]
    assert "camera_revoke" in actions and "camera_rotate" in actions


def test_settings_repr_hides_the_key():
    assert "s3cr3t" not in repr(replace(Settings(), secret_key="s3cr3t" * 8))
