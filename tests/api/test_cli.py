"""``greenwave users create`` and ``greenwave cameras create``: no default credentials, one-line errors."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from api.db import User, make_engine, make_sessionmaker
from api.security import verify_password
from traffic.cli.main import main


def run(monkeypatch, capsys, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_create_hashes_the_password(monkeypatch, capsys, sqlite_url):
    code, out, _ = run(monkeypatch, capsys, ["users", "create", "root", "--role", "admin", "--password-stdin",
                                             "--db", sqlite_url], "s3cret-pass\n")
    assert code == 0 and "root" in out
    with make_sessionmaker(make_engine(sqlite_url))() as db:
        user = db.scalars(select(User)).one()
        assert user.role == "admin" and "s3cret" not in user.password_hash
        assert verify_password(user.password_hash, "s3cret-pass")
    code, _, err = run(monkeypatch, capsys, ["users", "create", "root", "--role", "admin", "--password-stdin",
                                             "--db", sqlite_url], "s3cret-pass\n")
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(monkeypatch, capsys, ["users", "create", "bob", "--role", "viewer", "--password-stdin",
                                             "--db", sqlite_url], "short\n")
    assert code == 2 and "8 characters" in err


def test_users_create_needs_a_valid_role(monkeypatch, capsys, sqlite_url):
    with pytest.raises(SystemExit) as exc:
        run(monkeypatch, capsys, ["users", "create", "x", "--role", "king", "--password-stdin", "--db", sqlite_url])
    assert exc.value.code == 2


def test_cameras_create_prints_a_key(monkeypatch, capsys, sqlite_url):
    code, out, _ = run(monkeypatch, capsys, ["cameras", "create", "cam-1", "--intersection", "I1", "--db", sqlite_url])
    assert code == 0 and out.strip().startswith("gwk_")
    code, _, err = run(monkeypatch, capsys, ["cameras", "create", "cam-2", "--intersection", "I99", "--db",
                                             sqlite_url])
    assert code == 2 and "I99" in err
