"""Simulation and optimisation jobs: rows in the ``jobs`` table, run in worker processes.

The API process only inserts ``queued`` rows. A runner thread claims them and hands them to a
process pool; the worker process writes progress and the result itself, so a request handler never
runs a simulation. A job found ``running`` when the API starts was cut off by a restart: it is marked
``failed`` with a hint to re-run it (``POST /api/v1/jobs/{id}/rerun``).

Worker processes die with the server, also after ``kill -9``: each watches its parent's pid and exits
when the parent is gone (and, on Linux, asks the kernel for SIGKILL when its parent exits).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from api.db import Job, make_engine, make_sessionmaker

if TYPE_CHECKING:
    from api.context import AppContext

log = logging.getLogger("greenwave.api")
RESTART_HINT = "interrupted by a server restart; re-run it with POST /api/v1/jobs/{id}/rerun"


def fail_interrupted(sessions: Any, now_s: float) -> int:
    """Mark jobs left ``running`` by a previous server process as failed; returns how many."""
    with sessions() as db:
        ids = list(db.scalars(select(Job.id).where(Job.status == "running")))
        for job_id in ids:
            db.execute(update(Job).where(Job.id == job_id).values(
                status="failed", error=RESTART_HINT.format(id=job_id), updated_at=now_s))
        db.commit()
    return len(ids)


class JobRunner:
    """Claims queued jobs and runs them in ``workers`` spawned processes."""

    def __init__(self, ctx: AppContext, workers: int) -> None:
        self.ctx = ctx
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                         initializer=die_with_parent, initargs=(os.getpid(),))
        self._running: dict[int, Future] = {}
        self._progress: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="greenwave-jobs", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception:  # keep the runner alive; the error is logged
                log.exception("job runner poll failed")
            self._stop.wait(0.3)

    def _poll(self) -> None:
        ctx = self.ctx
        with ctx.sessions() as db:
            for job_id, fut in list(self._running.items()):
                if fut.done():
                    del self._running[job_id]
                    exc = fut.exception()
                    if exc is not None:  # the worker process died; its own handler could not record it
                        db.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(
                            status="failed", error=f"worker process failed: {type(exc).__name__}",
                            updated_at=ctx.now()))
                        db.commit()
            while len(self._running) < self.workers:
                job_id = db.scalar(select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(1))
                if job_id is None:
                    break
                claimed = db.execute(update(Job).where(Job.id == job_id, Job.status == "queued")
                                     .values(status="running", updated_at=ctx.now())).rowcount
                db.commit()
                if claimed:
                    self._running[job_id] = self._pool.submit(run_job, ctx.settings.db_url, ctx.scenario_ref,
                                                              job_id)
            ids = set(self._running) | set(self._progress)
            if ids:
                for job in db.scalars(select(Job).where(Job.id.in_(ids))):
                    state = (job.status, job.progress)
                    if self._progress.get(job.id) != state:
                        self._progress[job.id] = state
                        ctx.hub.publish({"type": "job", "id": job.id, "kind": job.kind, "status": job.status,
                                         "progress": job.progress})
                    if job.status in ("succeeded", "failed"):
                        self._progress.pop(job.id, None)


# --- in the worker process -------------------------------------------------------------------

PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker process when the server process ``parent_pid`` is gone.

    On Linux the kernel sends SIGKILL when the parent exits (``prctl(PR_SET_PDEATHSIG)``); everywhere a
    daemon thread polls the parent pid, which changes when the parent dies and the worker is re-parented.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the poll below still ends the worker
            pass
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="greenwave-parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # at once: no cleanup that could wait on the dead parent


def run_job(db_url: str, scenario_ref: str, job_id: int) -> None:
    """Run one job and record its result or error (called in a worker process)."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)

    def set_progress(p: float) -> None:
        with sessions() as db:
            db.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                       .values(progress=round(p, 4), updated_at=time.time()))
            db.commit()

    with sessions() as db:
        job = db.get(Job, job_id)
        assert job is not None
        kind, request = job.kind, json.loads(job.request)
    try:
        result = _simulation(scenario_ref, request, set_progress) if kind == "simulation" \
            else _optimization(scenario_ref, request)
        values: dict[str, Any] = {"status": "succeeded", "progress": 1.0,
                                  "result": json.dumps(result, default=_plain)}
    except Exception as exc:  # recorded on the job: the user sees the message, never a traceback
        values = {"status": "failed", "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:2000]}"}
    with sessions() as db:
        db.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                   .values(updated_at=time.time(), **values))
        db.commit()
    engine.dispose()


def _scenario_with(scenario_ref: str, plans: dict[str, Any]) -> Any:
    from traffic import schema as S
    from traffic.scenario_io import load_scenario, plan_from_model

    scenario = load_scenario(scenario_ref)
    domain = {iid: plan_from_model(S.PlanModel.model_validate(body), iid) for iid, body in plans.items()}
    return scenario.with_plans(domain)


def _simulation(scenario_ref: str, request: dict[str, Any], set_progress: Any) -> dict[str, Any]:
    from simulation import simulate_seeds

    scenario = _scenario_with(scenario_ref, request["plans"])
    seeds = list(range(1, int(request["seeds"]) + 1))
    done = [0]

    def progress() -> None:
        done[0] += 1
        set_progress(done[0] / len(seeds))

    return simulate_seeds(scenario, seeds, duration_s=request.get("duration_s"), progress=progress)


def _optimization(scenario_ref: str, request: dict[str, Any]) -> dict[str, Any]:
    try:
        from signal_control.optimize import optimize
    except ImportError as exc:
        raise RuntimeError(f"optimiser not available: {exc}") from None
    from traffic.scenario_io import plan_to_model

    scenario = _scenario_with(scenario_ref, request["plans"])
    counts = _demand_of(request)
    result = optimize(scenario, request["method"], cycle_s=request.get("cycle_s"), counts=counts)
    return {"summary": result.summary(),
            "plans": {iid: plan_to_model(p, with_intersection=False).model_dump() for iid, p in result.plans.items()},
            **_demand_report(scenario, request, counts)}


def _demand_of(request: dict[str, Any]) -> dict[str, Any] | None:
    """The demand an optimisation job was submitted with: movement -> MovementFlow (veh/h and PCU/h), or
    movement -> veh/h for a job queued before PCU were recorded, or None (the scenario's flows)."""
    from signal_control.movement_demand import MovementFlow

    veh = request.get("counts_veh_h") or None
    pcu = request.get("counts_pcu_h")
    if veh is None or pcu is None:
        return veh
    return {m: MovementFlow(float(q), float(pcu.get(m, q))) for m, q in veh.items()}


def _demand_report(scenario: Any, request: dict[str, Any], counts: dict[str, Any] | None) -> dict[str, Any]:
    """Per movement, the demand used and its source (camera, last_good or scenario), and the missing ones."""
    from signal_control.movement_demand import movement_demand

    flows = movement_demand(scenario, counts)
    sources = (request.get("demand_sources") or {}) if counts is not None else {}
    demand = {m: {"source": sources.get(m, "camera" if counts is not None else "scenario"),
                  "veh_h": round(f.veh_h, 1), "pcu_h": round(f.pcu_h, 1)} for m, f in flows.items()}
    return {"demand": demand, "missing_movements": {m: d["source"] for m, d in demand.items()
                                                    if counts is not None and d["source"] != "camera"}}


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
