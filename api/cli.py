"""``greenwave serve`` (API and dashboard); ``greenwave users ...`` and ``greenwave cameras ...``
(accounts, sessions and camera keys, in ``api.accounts_cli``)."""

from __future__ import annotations

import argparse

from api.db_url import default_db_url
from greenwave.cli.common import BadValue, float_in, int_in, max_jobs, port_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the control API and the operator dashboard",
                       description="Serve the REST API (/api/v1, OpenAPI at /docs), the live feed and the "
                                   "dashboard (/) for one scenario, and run its control loop: intersections in "
                                   "mode adaptive get the adaptive controller's plans, made from the counts the "
                                   "cameras push, at cycle boundaries; bad or missing camera data puts an "
                                   "intersection in failsafe (its time-of-day plan) with an alarm; fixed follows "
                                   "the time-of-day schedule, manual holds the operator's plan.")
    _db(p)
    p.add_argument("--scenario", default="arterial", help="scenario file or built-in name (default %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default %(default)s)")
    p.add_argument("--port", type=port_arg, default=8000, help="TCP port, 1..65535 (default %(default)s)")
    p.add_argument("--job-workers", type=int_in(0, max_jobs()), default=1,
                   help=f"worker processes for jobs, 0..{max_jobs()} (0: jobs stay queued; default %(default)s)")
    p.add_argument("--rate-limit", type=float_in(1.0, 1e6), default=100.0,
                   help="requests per second per credential, bursts of twice that (at least 1; default "
                        "%(default)s)")
    p.add_argument("--time-zone", type=_time_zone, default=None, metavar="ZONE",
                   help="IANA time zone of the deployment for time-of-day schedules, e.g. Asia/Ho_Chi_Minh "
                        "(stored in the database; default: the stored one, else UTC)")
    p.add_argument("--max-clock-skew-s", type=float_in(0.0, 86400.0), default=300.0,
                   help="refuse count intervals ending more than this after the server's clock (a camera clock "
                        "ahead), 0..86400 (default %(default)s)")
    p.add_argument("--max-interval-age-s", type=float_in(1.0, 1e10), default=7 * 86400.0,
                   help="refuse count intervals starting more than this before the server's clock (default "
                        "%(default)s: 7 days)")
    p.add_argument("--detector-interval-s", type=float_in(10.0, 3600.0), default=None, metavar="S",
                   help="the counting interval the control loop decides on, 10..3600 (default: the duration of "
                        "the first counts received, then kept in the database)")
    p.set_defaults(func=_serve)

    from api.accounts_cli import register_accounts

    register_accounts(sub, _db)


def _db(p: argparse.ArgumentParser) -> None:
    # the default ($GREENWAVE_DB) goes through the same check as a given URL, before anything connects
    p.add_argument("--db", type=_db_url, default=default_db_url(), metavar="URL",
                   help="SQLAlchemy database URL: sqlite:///FILE.db (its folder must exist) or "
                        f"postgresql+psycopg://USER@HOST/DB (default $GREENWAVE_DB or {default_db_url()!r})")


def _db_url(text: str) -> str:
    from api.db_url import db_url_problem, safe_url

    problem = db_url_problem(text)
    if problem:
        raise BadValue(f"{safe_url(text)!r} {problem}")
    return text


def _time_zone(text: str) -> str:
    from api.store import check_time_zone

    try:
        return check_time_zone(text)
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app
    from api.settings import Settings

    settings = Settings(db_url=args.db or default_db_url(), scenario=args.scenario, job_workers=args.job_workers,
                        rate_per_s=args.rate_limit, rate_burst=2 * args.rate_limit, time_zone=args.time_zone,
                        max_clock_skew_s=args.max_clock_skew_s, max_interval_age_s=args.max_interval_age_s,
                        detector_interval_s=args.detector_interval_s)
    app = create_app(settings)
    print(f"Greenwave dashboard: http://{args.host}:{args.port}/  (API docs: http://{args.host}:{args.port}/docs)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0

