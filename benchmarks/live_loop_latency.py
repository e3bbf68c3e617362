"""Decision latency of the API's live control loop: from the last count batch of an interval to the controller's
plans stored as in force (``api.live_loop``), on the arterial, in-process (an SQLite file, a simulated clock).

Every intersection is in adaptive mode and has a camera; each interval every camera posts 5 minutes of counts
(``POST /api/v1/counts``), then the loop decides (``ctx.loop.step()``: the adaptive controller, validation,
activations, audit, one transaction). The demand switches between side-street-heavy and arterial-heavy every
``--switch`` intervals, and the controller re-plans every interval (``reoptimize_every_s`` = the interval), so
most decisions re-optimise. The first decision also loads the optimiser (imports, Numba cache): reported apart.

    python benchmarks/live_loop_latency.py [--intervals 24] [--switch 4]
        [--out benchmarks/results/live_loop_latency.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api import control
from api.main import create_app
from api.routes.admin import create_camera
from api.settings import Settings
from signal_control.adaptive import AdaptiveParams

INTERVAL_S = 300.0
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def counts(scenario, iid: str, side_heavy: bool) -> dict:
    out = {}
    for m, mv in scenario.intersections[iid].movements.items():
        side = m.split(">")[0].startswith(("N", "S"))
        heavy = side == side_heavy
        out[m] = {"car": (60 if heavy else 10) if str(mv.turn) == "s" else 5, "motorcycle": 20 if heavy else 5}
    return out


def run(intervals: int, switch: int) -> dict[str, Any]:
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_url=f"sqlite:///{Path(tmp) / 'bench.db'}", scenario="arterial", job_workers=0,
                            clock=clock, rate_per_s=1e5, rate_burst=1e5, loop_poll_s=0.0,
                            secret_key="benchmark-only-signing-key-0123456789abcdef",
                            adaptive=AdaptiveParams(reoptimize_every_s=INTERVAL_S))
        app = create_app(settings)
        ctx = app.state.ctx
        keys = {}
        with ctx.sessions() as db:
            for iid in ctx.scenario.intersections:
                keys[iid] = create_camera(ctx, db, f"bench-{iid}", iid, "benchmark")["api_key"]
        rows: list[dict[str, Any]] = []
        with TestClient(app) as client:
            for iid in ctx.scenario.intersections:
                with ctx.sessions() as db:
                    control.set_mode(ctx, db, iid, "adaptive", "benchmark", None)
            for j in range(intervals):
                start = T0 + j * INTERVAL_S
                clock.t = start + INTERVAL_S + 1.0
                side_heavy = (j // switch) % 2 == 0
                t_post = time.perf_counter()
                for iid, key in keys.items():
                    body = {"camera": f"bench-{iid}", "batch_id": f"{j}", "intervals": [
                        {"start_s": start, "duration_s": INTERVAL_S, "health": "ok",
                         "counts": counts(ctx.scenario, iid, side_heavy)}]}
                    r = client.post("/api/v1/counts", json=body, headers={"X-API-Key": key})
                    assert r.status_code == 201, r.text
                t0 = time.perf_counter()
                (decision,) = ctx.loop.step()
                t1 = time.perf_counter()
                rows.append({"interval": j, "post_s": t0 - t_post, "decide_s": t1 - t0,
                             "applied": sorted(decision.applied)})
        ctx.engine.dispose()
    first_plan = next((r for r in rows if r["applied"]), None)
    later = [r for r in rows if r["applied"] and r is not first_plan]
    quiet = [r for r in rows if not r["applied"]]
    return {"intervals": intervals, "switch": switch, "rows": rows,
            "first_plan_decide_s": first_plan["decide_s"] if first_plan else None,
            "plan_decide_median_s": statistics.median(r["decide_s"] for r in later) if later else None,
            "plan_decide_max_s": max((r["decide_s"] for r in later), default=None),
            "plan_decisions": len(later) + (1 if first_plan else 0),
            "no_plan_decide_median_s": statistics.median(r["decide_s"] for r in quiet) if quiet else None,
            "post_batch_median_s": statistics.median(r["post_s"] / 6 for r in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--intervals", type=int, default=24)
    ap.add_argument("--switch", type=int, default=4)
    ap.add_argument("--out", default="benchmarks/results/live_loop_latency.json")
    args = ap.parse_args()
    res = run(args.intervals, args.switch)
    print(f"{'interval':>8} {'posts s':>8} {'decide s':>9}  plans put in force at")
    for r in res["rows"]:
        print(f"{r['interval']:>8} {r['post_s']:>8.3f} {r['decide_s']:>9.3f}  {','.join(r['applied']) or '-'}")

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f} s"

    print(f"first plan (loads the optimiser): {fmt(res['first_plan_decide_s'])}; later decisions with plans "
          f"({res['plan_decisions'] - 1}): median {fmt(res['plan_decide_median_s'])}, max "
          f"{fmt(res['plan_decide_max_s'])}; without plans: median {fmt(res['no_plan_decide_median_s'])}; "
          f"one count batch: median {fmt(res['post_batch_median_s'])}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
