"""Job worker processes die with the server, also after ``kill -9`` (no orphans left running)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, greenwave, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process; None when it is gone (a zombie has ended too)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else (fields[0], int(fields[1]))


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[1] == pid:
                found.add(int(entry))
    return found


def test_workers_die_when_the_server_is_killed(tmp_path):
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    out = greenwave("users", "create", "eng", "--role", "engineer", "--password-stdin", "--db", db,
                    stdin="Worker-pass-77\n")
    assert out.returncode == 0, out.stderr
    server = Server(db, "--job-workers", "1").start()
    try:
        eng = server.token("eng", "Worker-pass-77")
        r = httpx.post(server.url + "/api/v1/jobs/simulation", json={"seeds": 10, "duration_s": 7200}, headers=eng,
                       timeout=30)
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        wait_for(lambda: httpx.get(f"{server.url}/api/v1/jobs/{job}", headers=eng, timeout=30).json()["status"]
                 == "running", 60, "the job to run")
        workers = wait_for(lambda: children(server.proc.pid), 30, "a worker process")
        server.kill()  # SIGKILL: the server cannot tell its workers anything
        wait_for(lambda: all(_stat(pid) is None for pid in workers), 10, f"workers {sorted(workers)} to exit")
    finally:
        server.kill()
