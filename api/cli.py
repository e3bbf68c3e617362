"""``greenwave serve`` (API and dashboard), ``greenwave users create`` and ``greenwave cameras create``."""

from __future__ import annotations

import argparse
import sys

from api.settings import default_db_url


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the control API and the operator dashboard",
                       description="Serve the REST API (/api/v1, OpenAPI at /docs), the live feed and the "
                                   "dashboard (/) for one scenario.")
    _db(p)
    p.add_argument("--scenario", default="arterial", help="scenario file or built-in name (default %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    p.add_argument("--job-workers", type=int, default=1, help="worker processes for jobs (default %(default)s)")
    p.add_argument("--rate-limit", type=float, default=100.0,
                   help="requests per second per credential, bursts of twice that (default %(default)s)")
    p.set_defaults(func=_serve)

    users = sub.add_parser("users", help="manage API users").add_subparsers(dest="users_command", required=True)
    c = users.add_parser("create", help="create a user (the first admin too); the password is read from stdin")
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=("viewer", "operator", "engineer", "admin"))
    c.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from the first line of standard input")
    _db(c)
    c.set_defaults(func=_create_user)

    cams = sub.add_parser("cameras", help="manage camera workers").add_subparsers(dest="cameras_command",
                                                                                    required=True)
    k = cams.add_parser("create", help="register a camera and print its API key (shown once)")
    k.add_argument("camera_id")
    k.add_argument("--intersection", required=True)
    k.add_argument("--scenario", default="arterial", help="scenario the server manages (default %(default)s)")
    _db(k)
    k.set_defaults(func=_create_camera)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, metavar="URL",
                   help=f"SQLAlchemy database URL (default $GREENWAVE_DB or {default_db_url()!r})")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app
    from api.settings import Settings

    settings = Settings(db_url=args.db or default_db_url(), scenario=args.scenario, job_workers=args.job_workers,
                        rate_per_s=args.rate_limit, rate_burst=2 * args.rate_limit)
    app = create_app(settings)
    print(f"Greenwave dashboard: http://{args.host}:{args.port}/  (API docs: http://{args.host}:{args.port}/docs)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _create_user(args: argparse.Namespace) -> int:
    import time

    from api.db import make_engine, make_sessionmaker, migrate
    from api.errors import ApiError
    from api.routes.admin import create_user
    from traffic.errors import TrafficError

    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise TrafficError("the password must have at least 8 characters")
    engine = make_engine(args.db or default_db_url())
    migrate(engine)
    with make_sessionmaker(engine)() as db:
        try:
            create_user(db, args.name, args.role, password, "cli", time.time())
        except ApiError as exc:
            raise TrafficError(exc.detail) from None
    print(f"created user {args.name!r} with role {args.role}")
    return 0


def _create_camera(args: argparse.Namespace) -> int:
    from api.errors import ApiError
    from api.main import build_context
    from api.routes.admin import create_camera
    from api.settings import Settings
    from traffic.errors import TrafficError

    ctx = build_context(Settings(db_url=args.db or default_db_url(), scenario=args.scenario, job_workers=0))
    if args.intersection not in ctx.scenario.intersections:
        raise TrafficError(f"no intersection {args.intersection!r} in scenario {ctx.scenario.name!r}")
    with ctx.sessions() as db:
        try:
            out = create_camera(ctx, db, args.camera_id, args.intersection, "cli")
        except ApiError as exc:
            raise TrafficError(exc.detail) from None
    print(out["api_key"])
    return 0
