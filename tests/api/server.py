"""Run ``greenwave serve`` as a real process (crash, browser and load tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def greenwave(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the ``greenwave`` CLI in a child process."""
    return subprocess.run([sys.executable, "-c", "import sys; from greenwave.cli.main import main; sys.exit(main())",
                           *args], input=stdin, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)


class Server:
    """``greenwave serve`` on a free loopback port; ``kill()`` sends SIGKILL."""

    def __init__(self, db_url: str, *extra: str, scenario: str = "arterial") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-c", "import sys; from greenwave.cli.main import main; sys.exit(main())",
                     "serve", "--db", db_url, "--scenario", scenario, "--port", str(self.port), *extra]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90.0) -> Server:
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read().decode() if self.proc.stdout else ''}")
            try:
                if httpx.get(self.url + "/api/v1/health/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become ready")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def token(self, user: str, password: str) -> dict[str, str]:
        r = httpx.post(self.url + "/api/v1/auth/token", data={"username": user, "password": password}, timeout=30)
        r.raise_for_status()
        return {"Authorization": "Bearer " + r.json()["access_token"]}


def wait_for(predicate, timeout_s: float = 60.0, what: str = "condition"):
    """The first truthy value of ``predicate()``, polled every 0.2 s; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
