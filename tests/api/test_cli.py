"""``greenwave users ...`` and ``greenwave cameras ...``: no default credentials, a password policy, account
and key operations (audited), one-line errors that change nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from api.db import AuditEntry, Camera, User, make_engine, make_sessionmaker
from api.security import verify_password
from greenwave.cli.main import main


def run(monkeypatch, capsys, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_create_hashes_the_password(monkeypatch, capsys, sqlite_url):
    code, out, _ = run(monkeypatch, capsys, ["users", "create", "root", "--role", "admin", "--password-stdin",
                                             "--db", sqlite_url], "s3cret-Pass-42\n")
    assert code == 0 and "root" in out
    with make_sessionmaker(make_engine(sqlite_url))() as db:
        user = db.scalars(select(User)).one()
        assert user.role == "admin" and "s3cret" not in user.password_hash
        assert verify_password(user.password_hash, "s3cret-Pass-42")
    code, _, err = run(monkeypatch, capsys, ["users", "create", "root", "--role", "admin", "--password-stdin",
                                             "--db", sqlite_url], "s3cret-Pass-42\n")
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(monkeypatch, capsys, ["users", "create", "bob", "--role", "viewer", "--password-stdin",
                                             "--db", sqlite_url], "short\n")
    assert code == 2 and "12 characters" in err


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


def one_line_error(code: int, err: str) -> bool:
    return code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("", "admin", "s3cret-Pass-42", "must not be empty"),
    ("bob smith", "admin", "s3cret-Pass-42", "user name"),
    ("cli", "admin", "s3cret-Pass-42", "reserved"),
    ("root", "admin", "admin", "12 characters"),
    ("root", "admin", "password1234", "common"),
    ("root", "admin", "rootroot1234", "user name"),
    ("root", "admin", "111111111111", "different characters"),
])
def test_users_create_refuses_bad_names_and_weak_passwords_changing_nothing(monkeypatch, capsys, tmp_path, name,
                                                                            role, password, message):
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    code, _, err = run(monkeypatch, capsys, ["users", "create", name, "--role", role, "--password-stdin", "--db", db],
                       password + "\n")
    assert one_line_error(code, err) and message in err
    assert list(tmp_path.iterdir()) == []  # no database, no key file


def test_user_operations_from_the_cli_are_audited(monkeypatch, capsys, sqlite_url):
    def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        return run(monkeypatch, capsys, [*argv, "--db", sqlite_url], stdin)

    assert cli("users", "create", "root", "--role", "admin", "--password-stdin", stdin="s3cret-Pass-42\n")[0] == 0
    assert cli("users", "create", "olga", "--role", "operator", "--password-stdin", stdin="Olga-pass-4242\n")[0] == 0
    code, out, _ = cli("users", "list")
    assert code == 0 and "olga" in out and "operator" in out and "enabled" in out
    assert cli("users", "disable", "olga")[0] == 0
    assert '"disabled": true' in cli("users", "list", "--json")[1]
    assert cli("users", "enable", "olga")[0] == 0
    assert cli("users", "set-role", "olga", "--role", "engineer")[0] == 0
    code, _, err = cli("users", "passwd", "olga", "--password-stdin", stdin="weak\n")
    assert one_line_error(code, err) and "12 characters" in err
    assert cli("users", "passwd", "olga", "--password-stdin", stdin="Olga-new-pass-7\n")[0] == 0
    with make_sessionmaker(make_engine(sqlite_url))() as db:
        olga = db.scalars(select(User).where(User.name == "olga")).one()
        assert olga.role == "engineer" and verify_password(olga.password_hash, "Olga-new-pass-7")
    code, out, _ = cli("users", "sessions", "olga")
    assert code == 0 and out == ""
    assert one_line_error(*cli("users", "sessions", "--revoke", "nope")[:3:2])
    assert one_line_error(*cli("users", "sessions", "--revoke-all")[:3:2])
    assert cli("users", "delete", "olga")[0] == 0
    code, _, err = cli("users", "delete", "olga")
    assert one_line_error(code, err) and "no user 'olga'" in err
    code, _, err = cli("users", "disable", "root")
    assert one_line_error(code, err) and "last enabled admin" in err
    with make_sessionmaker(make_engine(sqlite_url))() as db:
        actions = [a for (a,) in db.execute(select(AuditEntry.action).where(AuditEntry.actor == "cli")
                                            .order_by(AuditEntry.id))]
    assert actions == ["user_create", "user_create", "user_disable", "user_enable", "user_role", "password_reset",
                       "user_delete"]


def test_user_commands_on_a_missing_database_create_nothing(monkeypatch, capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'none.db'}"
    for argv in (["users", "list"], ["users", "disable", "x"], ["cameras", "list"], ["cameras", "revoke", "c"]):
        code, _, err = run(monkeypatch, capsys, [*argv, "--db", db])
        assert one_line_error(code, err) and "no database" in err, argv
    assert list(tmp_path.iterdir()) == []


def test_camera_keys_are_listed_revoked_and_rotated(monkeypatch, capsys, sqlite_url):
    def cli(*argv: str) -> tuple[int, str, str]:
        return run(monkeypatch, capsys, [*argv, "--db", sqlite_url])

    code, key, _ = cli("cameras", "create", "cam-1", "--intersection", "I1")
    assert code == 0
    code, out, _ = cli("cameras", "list")
    assert code == 0 and "cam-1" in out and "active" in out and key.strip() not in out
    assert cli("cameras", "revoke", "cam-1")[0] == 0
    assert "revoked" in cli("cameras", "list")[1]
    assert one_line_error(*cli("cameras", "revoke", "cam-1")[:3:2])
    code, new_key, _ = cli("cameras", "rotate", "cam-1")
    assert code == 0 and new_key.startswith("gwk_") and new_key != key
    assert one_line_error(*cli("cameras", "rotate", "cam-404")[:3:2])
    with make_sessionmaker(make_engine(sqlite_url))() as db:
        cam = db.get(Camera, "cam-1")
        assert cam.revoked_at is None and new_key.strip().startswith(f"gwk_{cam.key_id}.")
