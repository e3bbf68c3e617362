"""Load benchmark of the control API on loopback: status reads and counts ingestion.

Starts ``greenwave serve`` (one process, SQLite WAL) on a 10x10 synthetic grid (100 signalised
intersections), then:

* **status reads**: ``--connections`` keep-alive HTTP/1.1 connections, each with its own viewer
  token (the per-credential rate limit stays at its default, 100 req/s), request
  ``GET /api/v1/intersections/{random}/status`` for ``--seconds``; throughput and latency
  percentiles, median of ``--reps`` runs. The load generator is a minimal asyncio HTTP client in
  this process, so client and server share the machine's cores.
* **counts ingestion**: ``--cameras`` camera workers, each pushing a one-interval batch every
  ``--period-s`` seconds for ``--rounds`` rounds (10 % of batches are sent twice, as a worker
  retrying after a lost answer would); then the database must hold exactly one copy of every
  interval and every vehicle.

    python benchmarks/api_load.py [--reps 3] [--seconds 10] [--connections 32] [--rounds 4]
                                  [--out benchmarks/results/api_load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _request(reader, writer, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(h.split(":", 1)[1]) for h in lines[1:] if h.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return status


async def read_load(port: int, tokens: list[str], iids: list[str], seconds: float,
                    rate_per_s: float | None = None) -> dict:
    """One connection per token. Closed loop (each sends its next request when the last answered) or,
    with ``rate_per_s``, an open loop at that total rate, latency measured from each request's scheduled
    time (so a stalled server is not hidden by requests it prevented from being sent)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    start_at = time.perf_counter()
    stop_at = start_at + seconds

    async def worker(k: int, token: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        headers = {"Authorization": f"Bearer {token}"}
        rng = random.Random(token)
        interval = len(tokens) / rate_per_s if rate_per_s else 0.0
        due = start_at + k * interval / len(tokens)
        while time.perf_counter() < stop_at:
            if rate_per_s:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                t0 = due
                due += interval
            else:
                t0 = time.perf_counter()
            code = await _request(reader, writer, "GET", f"/api/v1/intersections/{rng.choice(iids)}/status", headers)
            latencies.append(time.perf_counter() - t0)
            codes[code] = codes.get(code, 0) + 1
        writer.close()

    await asyncio.gather(*(worker(k, t) for k, t in enumerate(tokens)))
    wall = time.perf_counter() - start_at
    return {"requests": len(latencies), "ok_rps": codes.get(200, 0) / wall, "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99), "max_ms": 1000 * max(latencies), "status_codes": codes,
            "offered_rps": rate_per_s}


async def ingest_load(port: int, cameras: list[tuple[str, str, list[str]]], period_s: float, rounds: int,
                      t0_s: float) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    sent_vehicles = 0

    async def camera(cam: str, key: str, moves: list[str], phase_s: float) -> None:
        nonlocal sent_vehicles
        await asyncio.sleep(phase_s)
        rng = random.Random(cam)
        for k in range(rounds):
            start = time.perf_counter()
            counts = {m: {"car": rng.randint(0, 9), "motorcycle": rng.randint(0, 20)} for m in moves}
            sent_vehicles += sum(sum(c.values()) for c in counts.values())
            body = json.dumps({"camera": cam, "batch_id": f"{cam}-{k}", "intervals": [
                {"start_s": t0_s + k * period_s, "duration_s": period_s, "counts": counts}]}).encode()
            for _ in range(2 if rng.random() < 0.1 else 1):  # a retry resends the same batch
                t = time.perf_counter()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)  # idle 15 s: a new connection
                code = await _request(reader, writer, "POST", "/api/v1/counts", {"X-API-Key": key}, body)
                writer.close()
                latencies.append(time.perf_counter() - t)
                codes[code] = codes.get(code, 0) + 1
            await asyncio.sleep(max(0.0, period_s - (time.perf_counter() - start)))

    await asyncio.gather(*(camera(c, k, m, i * period_s / len(cameras)) for i, (c, k, m) in enumerate(cameras)))
    return {"pushes": len(latencies), "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99), "status_codes": codes, "sent_vehicles": sent_vehicles}


def setup(tmp: Path, n_viewers: int, n_cameras: int) -> tuple[str, Path, list[tuple[str, str, list[str]]]]:
    from api.main import build_context
    from api.routes.admin import create_camera, create_user
    from api.settings import Settings
    from signal_control.synthetic_grid import make_grid_scenario
    from traffic.scenario_io import save_scenario

    scenario_path = tmp / "grid10.json"
    save_scenario(make_grid_scenario(10), scenario_path)
    db_url = f"sqlite:///{tmp / 'api.db'}"
    ctx = build_context(Settings(db_url=db_url, scenario=str(scenario_path), job_workers=0))
    iids = list(ctx.scenario.intersections)
    cams = []
    with ctx.sessions() as db:
        for i in range(n_viewers):
            create_user(db, f"viewer{i}", "viewer", "bench-password", "bench", time.time())
        for i in range(n_cameras):
            iid = iids[i % len(iids)]
            key = create_camera(ctx, db, f"cam{i:03d}", iid, "bench")["api_key"]
            cams.append((f"cam{i:03d}", key, list(ctx.scenario.intersections[iid].movements)))
    ctx.engine.dispose()
    return db_url, scenario_path, cams


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rate", type=float, default=1000.0, help="offered rate of the open-loop run (req/s)")
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--period-s", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "api_load.json"))
    args = ap.parse_args()
    import httpx

    from tests.api.server import Server

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db_url, scenario_path, cams = setup(tmp, args.connections, args.cameras)
        server = Server(db_url, "--job-workers", "0", scenario=str(scenario_path)).start()
        try:
            tokens = [server.token(f"viewer{i}", "bench-password")["Authorization"].split()[1]
                      for i in range(args.connections)]
            iids = [i["id"] for i in httpx.get(server.url + "/api/v1/intersections",
                                               headers={"Authorization": f"Bearer {tokens[0]}"}).json()]
            asyncio.run(read_load(server.port, tokens, iids, 2.0))  # warm-up
            reads: dict[str, list[dict]] = {}
            for mode, rate in ((f"open loop {args.rate:g} req/s", args.rate), ("closed loop (max)", None)):
                reads[mode] = [asyncio.run(read_load(server.port, tokens, iids, args.seconds, rate))
                               for _ in range(args.reps)]
                for r in reads[mode]:
                    print(f"status reads, {mode}: {r['ok_rps']:.0f} ok req/s, p50 {r['p50_ms']:.1f} ms, "
                          f"p99 {r['p99_ms']:.1f} ms, codes {r['status_codes']}", flush=True)
            ingest = asyncio.run(ingest_load(server.port, cams, args.period_s, args.rounds, 1.7e9))
        finally:
            server.stop()
        con = sqlite3.connect(tmp / "api.db")
        intervals, distinct = con.execute("SELECT count(*), count(DISTINCT camera || ':' || start_s) "
                                          "FROM count_intervals").fetchone()
        stored_vehicles = con.execute("SELECT coalesce(sum(vehicles), 0) FROM count_rows").fetchone()[0]
        con.close()
    expected = args.cameras * args.rounds
    ingest.update(expected_intervals=expected, stored_intervals=intervals, distinct_intervals=distinct,
                  stored_vehicles=stored_vehicles,
                  no_loss=intervals == expected and stored_vehicles == ingest["sent_vehicles"],
                  no_duplicates=intervals == distinct == expected)
    medians = {c: {k: statistics.median(r[k] for r in runs) for k in ("ok_rps", "p50_ms", "p99_ms")}
               for c, runs in reads.items()}
    summary = {"intersections": len(iids), "connections": args.connections, "seconds": args.seconds,
               "reads": reads, "reads_median": medians,
               "ingest": ingest, "cameras": args.cameras, "period_s": args.period_s, "rounds": args.rounds}
    print(f"\n| measure | median of {args.reps} |\n|---|---|")
    for c, m in medians.items():
        print(f"| status reads, {len(iids)} intersections, {args.connections} connections, {c} | "
              f"{m['ok_rps']:.0f} req/s answered 200, "
              f"p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms |")
    print(f"| ingestion: {args.cameras} cameras x {args.rounds} batches every {args.period_s:g} s | "
          f"{intervals}/{expected} intervals, {distinct} distinct, "
          f"vehicles {stored_vehicles}/{ingest['sent_vehicles']}, "
          f"push p50 {ingest['p50_ms']:.1f} ms p99 {ingest['p99_ms']:.1f} ms, codes {ingest['status_codes']} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if ingest["no_loss"] and ingest["no_duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
