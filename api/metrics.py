"""Prometheus-style counters and a latency histogram, collected by a pure ASGI middleware."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.buckets = [0] * (len(BUCKETS_S) + 1)
        self.latency_sum_s = 0.0
        self.latency_count = 0
        self.counters: dict[str, int] = defaultdict(int)

    def observe(self, method: str, status: int, elapsed_s: float) -> None:
        with self._lock:
            self.requests[(method, str(status))] += 1
            self.latency_sum_s += elapsed_s
            self.latency_count += 1
            for i, b in enumerate(BUCKETS_S):
                if elapsed_s <= b:
                    self.buckets[i] += 1
                    break
            else:
                self.buckets[-1] += 1

    def inc(self, name: str, by: int = 1) -> None:
        with self._lock:
            self.counters[name] += by

    def render(self, gauges: dict[str, float]) -> str:
        """The Prometheus text exposition format."""
        lines = ["# TYPE greenwave_http_requests_total counter"]
        with self._lock:
            for (method, status), n in sorted(self.requests.items()):
                lines.append(f'greenwave_http_requests_total{{method="{method}",status="{status}"}} {n}')
            lines.append("# TYPE greenwave_http_request_seconds histogram")
            cumulative = 0
            for b, n in zip((*BUCKETS_S, float("inf")), self.buckets, strict=True):
                cumulative += n
                le = "+Inf" if b == float("inf") else f"{b}"
                lines.append(f'greenwave_http_request_seconds_bucket{{le="{le}"}} {cumulative}')
            lines.append(f"greenwave_http_request_seconds_sum {self.latency_sum_s:.6f}")
            lines.append(f"greenwave_http_request_seconds_count {self.latency_count}")
            for name, n in sorted(self.counters.items()):
                lines += [f"# TYPE greenwave_{name} counter", f"greenwave_{name} {n}"]
        for name, v in sorted(gauges.items()):
            lines += [f"# TYPE greenwave_{name} gauge", f"greenwave_{name} {v}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            self.metrics.observe(scope["method"], status, time.perf_counter() - t0)
