"""``greenwave count-cameras``: many cameras as long-lived Dask tasks, pushing counts to the control API."""

from __future__ import annotations

import argparse
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
from typing import TYPE_CHECKING, Any

from detection.errors import CameraConfigError
from greenwave.cli.common import jobs_arg, max_jobs, require_extra
from traffic.errors import TrafficError

if TYPE_CHECKING:
    from detection.batching import BatchSettings

# detection.batching's limits, written out for --help so that building the parser does not import numpy (a test
# checks that they agree)
MAX_BATCH_SIZE = 256
MAX_WAIT_LIMIT_MS = 10_000.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "count-cameras", help="count many cameras on Dask and push their interval counts to the control API",
        description="Run the counting pipeline of 'greenwave count' for every camera of CAMERAS.json, each as a "
                    "long-lived task on a Dask cluster (a local one with --workers, or --scheduler), and push each "
                    "camera's interval counts to the API's POST /api/v1/counts with that camera's key. A camera "
                    "that fails is restarted with back-off up to the file's restart.max_restarts times, then "
                    "reported failed while the others go on. With batching (--batch-size or the file's \"batch\"), "
                    "the cameras of each worker process share one detector and their frames run in batched "
                    "calls, for GPUs; a model that cannot batch (the TFLite export) falls back to a detector per "
                    "camera. Needs the 'detect' and 'dask' extras.",
        epilog="Exit status: 0 when every camera ended (file sources) or was stopped (Ctrl-C), 1 when a camera "
               "failed for good, 2 for bad input.")
    p.add_argument("cameras", metavar="CAMERAS.json", help="the cameras: id, source, config, credential, intersection")
    p.add_argument("--api", required=True, metavar="URL", help="base URL of 'greenwave serve', e.g. http://10.0.0.2:8000")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="address of a running Dask scheduler whose workers have one thread per camera")
    where.add_argument("--workers", type=jobs_arg, default=None, metavar="K",
                       help=f"start a local cluster of K worker processes (at most {max_jobs()}; default: one per "
                            "camera, at most one per CPU core; one with batching), with enough threads for every "
                            "camera")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--batch-size", type=int, default=None, metavar="N",
                       help=f"batched inference: the cameras of a worker process share one detector, up to N frames "
                            f"(1..{MAX_BATCH_SIZE}) per call; overrides the file's batch.size (default: off; "
                            f"recommended with a .pt model on a CUDA host; with batching and no --workers, one worker "
                            f"process runs every camera)")
    batch.add_argument("--no-batch", action="store_true", help="a detector per camera, whatever the file says")
    p.add_argument("--batch-wait-ms", type=float, default=None, metavar="MS",
                   help=f"longest the free detector waits for more frames before it runs a batch that is not full "
                        f"(0..{MAX_WAIT_LIMIT_MS:g}; default: the file's batch.max_wait_ms, else 20)")
    p.add_argument("--json", action="store_true", help="print the final report as JSON")
    p.set_defaults(func=_count_cameras)


def _count_cameras(args: argparse.Namespace) -> int:
    from detection.fleet import run_fleet, unbatchable_off
    from detection.fleet_config import load_fleet, with_batch

    if not args.api.lower().startswith(("http://", "https://")) or len(args.api.split("://", 1)[1].strip("/")) == 0:
        raise CameraConfigError(f"--api {args.api!r}: expected an http:// or https:// URL")
    if args.scheduler is None:  # the cameras run here (a remote cluster's workers bring their own stack)
        require_extra("count-cameras", "detect", "ultralytics", "cv2")
    fleet = load_fleet(args.cameras, args.api, epoch_anchor_s=time.time())
    fleet = with_batch(fleet, _batch(args, fleet.jobs[0].batch))
    n = len(fleet.jobs)
    _setup_logging()
    fleet = unbatchable_off(fleet)  # before the cluster is sized: a TFLite fleet keeps a process per core
    batched = any(j.batch is not None for j in fleet.jobs)
    workers = args.workers or (1 if batched else None)  # batched: one process, one model load, every camera
    with _client(args.scheduler, workers, n) as (client, threads_per_camera):
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


def _batch(args: argparse.Namespace, from_file: BatchSettings | None) -> BatchSettings | None:
    """The batching the command line and the file ask for together.

    Raises:
        CameraConfigError: a batch size or wait out of range, or a wait without batching.
    """
    from detection.batching import MAX_BATCH_SIZE, MAX_WAIT_LIMIT_MS, BatchSettings

    if args.no_batch:
        return None
    if args.batch_size is None and from_file is None:
        if args.batch_wait_ms is not None:
            raise CameraConfigError("--batch-wait-ms needs batching: give --batch-size N or a \"batch\" in the "
                                    "cameras file")
        return None
    size = args.batch_size if args.batch_size is not None else from_file.size  # type: ignore[union-attr]
    wait_ms = args.batch_wait_ms if args.batch_wait_ms is not None else \
        (from_file.max_wait_ms if from_file is not None else BatchSettings().max_wait_ms)
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise CameraConfigError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE} (got {size})")
    if not (math.isfinite(wait_ms) and 0 <= wait_ms <= MAX_WAIT_LIMIT_MS):
        raise CameraConfigError(f"--batch-wait-ms must be from 0 to {MAX_WAIT_LIMIT_MS:g} (got {wait_ms:g})")
    return BatchSettings(size, wait_ms)


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
            "batched": r.batched if r else None, "shared_detector": r.shared_detector if r else None,
            "frames_per_call": r.frames_per_call if r else None,
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
