"""``greenwave count-cameras``: many cameras as long-lived Dask tasks, pushing counts to the control API."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from detection.errors import CameraConfigError
from traffic.errors import TrafficError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "count-cameras", help="count many cameras on Dask and push their interval counts to the control API",
        description="Run the counting pipeline of 'greenwave count' for every camera of CAMERAS.json, each as a "
                    "long-lived task on a Dask cluster (a local one with --workers, or --scheduler), and push each "
                    "camera's interval counts to the API's POST /api/v1/counts with that camera's key. A camera "
                    "that fails is restarted with back-off up to the file's restart.max_restarts times, then "
                    "reported failed while the others go on. Needs the 'detect' and 'dask' extras.",
        epilog="Exit status: 0 when every camera ended (file sources) or was stopped (Ctrl-C), 1 when a camera "
               "failed for good, 2 for bad input.")
    p.add_argument("cameras", metavar="CAMERAS.json", help="the cameras: id, source, config, credential, intersection")
    p.add_argument("--api", required=True, metavar="URL", help="base URL of 'greenwave serve', e.g. http://10.0.0.2:8000")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="address of a running Dask scheduler whose workers have one thread per camera")
    where.add_argument("--workers", type=int, default=None, metavar="K",
                       help="start a local cluster of K worker processes (default: one per camera, at most one per "
                            "CPU core), with enough threads for every camera")
    p.add_argument("--json", action="store_true", help="print the final report as JSON")
    p.set_defaults(func=_count_cameras)


def _count_cameras(args: argparse.Namespace) -> int:
    from detection.fleet import run_fleet
    from detection.fleet_config import load_fleet

    if not args.api.lower().startswith(("http://", "https://")) or len(args.api.split("://", 1)[1].strip("/")) == 0:
        raise CameraConfigError(f"--api {args.api!r}: expected an http:// or https:// URL")
    if args.workers is not None and args.workers < 1:
        raise CameraConfigError(f"--workers must be >= 1 (got {args.workers})")
    fleet = load_fleet(args.cameras, args.api, epoch_anchor_s=time.time())
    n = len(fleet.jobs)
    if args.scheduler is None:
        for package in ("ultralytics", "cv2"):
            if importlib.util.find_spec(package) is None:
                raise TrafficError("greenwave count-cameras needs the detector stack: pip install 'greenwave[detect]'")
    _setup_logging()
    with _client(args.scheduler, args.workers, n) as (client, threads_per_camera):
        if threads_per_camera:
            fleet = replace(fleet, jobs=tuple(replace(j, cpu_threads=threads_per_camera) for j in fleet.jobs))
        threads = sum(client.nthreads().values())
        if threads < n:
            logging.getLogger("greenwave.fleet").warning(
                "the cluster has %d worker thread(s) for %d cameras: %d camera(s) wait until others end", threads, n,
                n - threads)
        with _sigterm_as_interrupt():
            statuses = run_fleet(client, fleet)
    report = [_row(s) for s in statuses]
    print(json.dumps({"cameras": report}, indent=1) if args.json else _table(report))
    return 1 if any(s.state == "failed" for s in statuses) else 0


@contextmanager
def _client(scheduler: str | None, workers: int | None, cameras: int) -> Iterator[tuple[Any, int | None]]:
    """A client, and the CPU threads each camera's detector may use (None: its default) on a local cluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise TrafficError("greenwave count-cameras needs Dask: pip install 'greenwave[dask]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler)
        except (OSError, ValueError) as exc:
            raise TrafficError(f"--scheduler {scheduler!r}: cannot connect ({' '.join(str(exc).split())})") from None
        with client:
            yield client, None
        return
    cores = os.cpu_count() or 1
    n_workers = workers or max(1, min(cameras, cores))
    threads = math.ceil(cameras / n_workers)  # every camera holds a thread for as long as it runs
    # Dask's own log of a failed task (a traceback per attempt) is left out: the supervisor logs each failure
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client, max(1, cores // cameras)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (systemd, docker stop) stops the cameras cleanly, as Ctrl-C does."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _setup_logging() -> None:
    logger = logging.getLogger("greenwave.fleet")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _row(s: Any) -> dict[str, Any]:
    r = s.result
    return {"camera": s.camera_id, "state": s.state, "attempts": s.attempts, "restarts": s.restarts,
            "frames": r.frames_read if r else None, "stride": r.stride if r else None,
            "intervals": r.intervals if r else None, "stored_intervals": r.stored_intervals if r else None,
            "vehicles": r.vehicles if r else None, "health": r.health if r else None,
            "errors": s.errors}


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'camera':16s} {'state':8s} {'restarts':>8s} {'frames':>8s} {'intervals':>9s} {'stored':>7s} "
             f"{'vehicles':>8s}  health / last error"]
    for r in rows:
        num = {k: "-" if r[k] is None else str(r[k]) for k in ("frames", "intervals", "stored_intervals", "vehicles")}
        tail = r["errors"][-1] if r["errors"] and r["state"] != "done" else (r["health"] or "")
        lines.append(f"{r['camera']:16s} {r['state']:8s} {r['restarts']:8d} {num['frames']:>8s} "
                     f"{num['intervals']:>9s} {num['stored_intervals']:>7s} {num['vehicles']:>8s}  {tail}")
    return "\n".join(lines)
