"""``greenwave users ...`` and ``greenwave cameras ...``: accounts, sessions and camera keys from the shell.

They work on the database directly (whoever may run them may read the database anyway) and act at
once on a running server: it checks sessions and camera keys on every request. Every change is
audited with the actor ``cli``. Names, roles and passwords are checked before the database is opened,
so a user error changes nothing (one line on stderr, exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from traffic.errors import TrafficError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ACTOR = "cli"
ROLES = ("viewer", "operator", "engineer", "admin")


def register_accounts(sub: argparse._SubParsersAction, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``users`` and ``cameras`` subcommands (``add_db`` adds the shared ``--db`` option)."""
    users = sub.add_parser("users", help="manage API users and their sessions").add_subparsers(
        dest="users_command", required=True)
    c = users.add_parser("create", help="create a user (the first admin too); the password is read from stdin")
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=ROLES)
    _password_stdin(c)
    c.set_defaults(func=_create_user)
    p = users.add_parser("list", help="list users (name, role, disabled)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=_list_users)
    for name, disabled, text in (("disable", True, "disable a user: its sessions end at once (refused for the "
                                                   "last enabled admin)"),
                                 ("enable", False, "enable a disabled user again (old sessions stay ended)")):
        p = users.add_parser(name, help=text)
        p.add_argument("name")
        p.set_defaults(func=_set_disabled, disabled=disabled)
    p = users.add_parser("delete", help="delete a user and its sessions (the audit log keeps its name)")
    p.add_argument("name")
    p.set_defaults(func=_delete_user)
    p = users.add_parser("set-role", help="change a user's role (its sessions end at once)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.set_defaults(func=_set_role)
    p = users.add_parser("passwd", help="set a user's password, read from stdin (its sessions end)")
    p.add_argument("name")
    _password_stdin(p)
    p.set_defaults(func=_passwd)
    p = users.add_parser("sessions", help="list open sessions (of one user), or revoke them")
    p.add_argument("name", nargs="?", help="only this user's sessions")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--revoke", metavar="SESSION_ID", help="end this session")
    group.add_argument("--revoke-all", action="store_true", help="end every session of NAME")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=_sessions)
    for parser in users.choices.values():
        add_db(parser)

    cams = sub.add_parser("cameras", help="manage camera workers and their API keys").add_subparsers(
        dest="cameras_command", required=True)
    k = cams.add_parser("create", help="register a camera and print its API key (shown once)")
    k.add_argument("camera_id")
    k.add_argument("--intersection", required=True)
    k.add_argument("--scenario", default="arterial", help="scenario the server manages (default %(default)s)")
    k.set_defaults(func=_create_camera)
    k = cams.add_parser("list", help="list cameras (id, intersection, key id, revoked)")
    k.add_argument("--json", action="store_true", help="one JSON document")
    k.set_defaults(func=_list_cameras)
    k = cams.add_parser("revoke", help="revoke a camera's API key at once")
    k.add_argument("camera_id")
    k.set_defaults(func=_revoke_camera)
    k = cams.add_parser("rotate", help="give a camera a new API key (printed once); the old one stops at once")
    k.add_argument("camera_id")
    k.set_defaults(func=_rotate_camera)
    for parser in cams.choices.values():
        add_db(parser)


def _password_stdin(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from the first line of standard input")


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


@contextmanager
def _database(args: argparse.Namespace, create: bool = False) -> Iterator[Session]:
    """A session on ``--db`` (migrated); without ``create``, a missing SQLite file is an error, not created."""
    from api.db import make_engine, make_sessionmaker, migrate
    from api.errors import ApiError
    from api.settings import default_db_url
    from api.signing_key import sqlite_file

    url = args.db or default_db_url()
    path = sqlite_file(url)
    if not create and path is not None and not path.exists():
        raise TrafficError(f"no database {str(path)!r} (greenwave users create makes one)")
    engine = make_engine(url)
    try:
        migrate(engine)
        with make_sessionmaker(engine)() as db:
            try:
                yield db
            except ApiError as exc:
                raise TrafficError(exc.detail) from None
    finally:
        engine.dispose()


def _check(fn: Callable[..., None], *a: Any) -> None:
    from api.errors import ApiError

    try:
        fn(*a)
    except ApiError as exc:
        raise TrafficError(exc.detail) from None


def _create_user(args: argparse.Namespace) -> int:
    from api.accounts import check_new_user, create_user

    password = _read_password()
    _check(check_new_user, args.name, args.role, password)
    with _database(args, create=True) as db:
        create_user(db, args.name, args.role, password, ACTOR, time.time())
    print(f"created user {args.name!r} with role {args.role}")
    return 0


def _list_users(args: argparse.Namespace) -> int:
    from api.accounts import list_users, user_json

    with _database(args) as db:
        rows = [user_json(u) for u in list_users(db)]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for u in rows:
            print(f"{u['name']:<24} {u['role']:<9} {'disabled' if u['disabled'] else 'enabled'}")
    return 0


def _set_disabled(args: argparse.Namespace) -> int:
    from api.accounts import update_user

    with _database(args) as db:
        update_user(db, args.name, ACTOR, time.time(), disabled=args.disabled)
    print(f"user {args.name!r} {'disabled' if args.disabled else 'enabled'}")
    return 0


def _delete_user(args: argparse.Namespace) -> int:
    from api.accounts import delete_user

    with _database(args) as db:
        delete_user(db, args.name, ACTOR, time.time())
    print(f"deleted user {args.name!r}")
    return 0


def _set_role(args: argparse.Namespace) -> int:
    from api.accounts import update_user

    with _database(args) as db:
        update_user(db, args.name, ACTOR, time.time(), role=args.role)
    print(f"user {args.name!r} now has role {args.role}")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    from api.accounts import check_password, reset_password

    password = _read_password()
    _check(check_password, password, args.name)
    with _database(args) as db:
        reset_password(db, args.name, password, ACTOR, time.time())
    print(f"password of {args.name!r} set; its sessions ended")
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from api.accounts import get_user, revoke_session, revoke_sessions_of
    from api.sessions import open_sessions

    if args.revoke_all and not args.name:
        raise TrafficError("--revoke-all needs a user NAME")
    with _database(args) as db:
        if args.revoke:
            revoke_session(db, args.revoke, ACTOR, time.time())
            print(f"session {args.revoke} revoked")
            return 0
        if args.revoke_all:
            print(f"{revoke_sessions_of(db, args.name, ACTOR, time.time())} session(s) of {args.name!r} revoked")
            return 0
        if args.name:
            get_user(db, args.name)  # 'no user' rather than an empty list
        rows = open_sessions(db, time.time(), args.name)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for s in rows:
            print(f"{s['id']}  {s['user']:<24} from {s['source']:<16} created {_when(s['created_at'])}  "
                  f"expires {_when(s['expires_at'])}")
    return 0


def _create_camera(args: argparse.Namespace) -> int:
    from api.accounts import create_camera
    from traffic.scenario_io import load_scenario

    scenario = load_scenario(args.scenario)
    if args.intersection not in scenario.intersections:
        raise TrafficError(f"no intersection {args.intersection!r} in scenario {scenario.name!r}")
    with _database(args, create=True) as db:
        out = create_camera(db, args.camera_id, args.intersection, ACTOR, time.time())
    print(out["api_key"])
    return 0


def _list_cameras(args: argparse.Namespace) -> int:
    from api.accounts import camera_json, list_cameras

    with _database(args) as db:
        rows = [camera_json(c) for c in list_cameras(db)]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for c in rows:
            print(f"{c['id']:<24} {c['intersection']:<12} key {c['key_id']:<16} "
                  f"{'revoked ' + _when(c['revoked_at']) if c['revoked'] else 'active'}")
    return 0


def _revoke_camera(args: argparse.Namespace) -> int:
    from api.accounts import revoke_camera_key

    with _database(args) as db:
        revoke_camera_key(db, args.camera_id, ACTOR, time.time())
    print(f"the key of camera {args.camera_id!r} is revoked")
    return 0


def _rotate_camera(args: argparse.Namespace) -> int:
    from api.accounts import rotate_camera_key

    with _database(args) as db:
        out = rotate_camera_key(db, args.camera_id, ACTOR, time.time())
    print(out["api_key"])
    return 0


def _when(t_s: float | None) -> str:
    return "-" if t_s is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t_s))
