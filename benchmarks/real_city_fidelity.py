"""Greenwave's simulator against SUMO 1.28 micro on a real city: ingolstadt7 under its own fixed-time programs.

Both simulators run RESCO's ingolstadt7 (../shared/reference/resco/ingolstadt7, 16:00-17:00, 3,031
trips, the net's static 90-s programs) on the same seeds, without teleporting (SUMO
``--time-to-teleport -1``, Greenwave ``teleport_s=0``), and count every vehicle that entered the
network, those still driving at the end included (SUMO ``--tripinfo-output.write-unfinished``;
trips never inserted are not counted, as in RESCO's metric). Per seed: mean time loss, RESCO's
metric (mean of time loss + depart delay), finished / unfinished / never-inserted vehicles and a
jam flag; then medians, means and the Greenwave / SUMO ratios (target: median time loss within 15 %).

Greenwave runs twice: with ``dynamic_routing`` (trips routed when they enter on current travel
times, as SUMO's rerouting device routes trips) and with the scenario's static fastest free-flow
routes. The breakdown by origin link (pooled over seeds) shows where the simulators differ.

    python benchmarks/real_city_fidelity.py [--seeds 10] [--jobs 2] [--sumo PATH] [--no-sumo]
                                            [--out benchmarks/results/real_city_fidelity.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
CONFIG = SHARED / "reference" / "resco" / "ingolstadt7" / "ingolstadt7.sumocfg"

from simulation import DEFAULT_PARAMS, Simulation  # noqa: E402
from simulation.metrics import run_metrics, unfinished_trips  # noqa: E402
from traffic.scenario import Scenario  # noqa: E402
from traffic.sumo import import_sumocfg  # noqa: E402

JAM_SHARE = 0.10
"""A run is jammed when more than this share of its trips never entered the network, or of the
vehicles that entered are still in it at the end (a normal hour ends with about 4 % still driving)."""
TARGET = 0.15
MODES = {"dynamic": True, "static": False}


def greenwave_run(task: tuple[Scenario, int, bool]) -> dict:
    """One seed in Greenwave's simulator: the run's figures and, per trip, (time loss, depart delay)."""
    scenario, seed, dynamic = task
    params = replace(DEFAULT_PARAMS, teleport_s=0.0, dynamic_routing=dynamic)
    t0 = time.perf_counter()
    sim = Simulation(scenario, seed, params, duration_s=scenario.end_s - scenario.begin_s).run()
    wall = time.perf_counter() - t0
    m = run_metrics(sim)["metrics"]
    log, left = sim.log, unfinished_trips(sim)
    trips = {sim.flow_names[f]: (loss, delay) for f, loss, delay in
             zip(log.flow, log.time_loss_s, log.depart_delay_s, strict=True)}
    trips.update({sim.flow_names[f]: (float(loss), float(delay)) for f, loss, delay in
                  zip(left["flow"], left["time_loss_s"], left["depart_delay_s"], strict=True)})
    run = {"seed": seed, "finished": m["arrived"], "unfinished": m["still_in_network"],
           "not_inserted": m["not_inserted"], "time_loss_s": m["mean_time_loss_all_s"],
           "time_loss_finished_s": m["mean_time_loss_s"], "resco_delay_s": m["mean_delay_all_s"],
           "depart_delay_s": m["mean_depart_delay_all_s"], "wall_s": wall}
    return {"run": run, "trips": trips}


def sumo_binary(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "sumo"
    return str(beside) if beside.exists() else shutil.which("sumo")


def sumo_run(binary: str, seed: int, trips_in_window: int) -> dict:
    """One seed in SUMO micro, as RESCO runs it; per trip, (timeLoss, departDelay)."""
    with tempfile.TemporaryDirectory(prefix="gw_ing7_") as d:
        out = Path(d) / "tripinfo.xml"
        cmd = [binary, "-c", str(CONFIG), "--seed", str(seed), "--time-to-teleport", "-1",
               "--tripinfo-output", str(out), "--tripinfo-output.write-unfinished", "--no-step-log", "--no-warnings"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        rows = list(ET.parse(out).getroot().iter("tripinfo"))
    trips = {r.get("id", ""): (float(r.get("timeLoss", "nan")), float(r.get("departDelay", "nan"))) for r in rows}
    finished = sum(float(r.get("arrival", "-1")) >= 0 for r in rows)
    loss = [v[0] for v in trips.values()]
    run = {"seed": seed, "finished": finished, "unfinished": len(rows) - finished,
           "not_inserted": trips_in_window - len(rows), "time_loss_s": statistics.fmean(loss),
           "time_loss_finished_s": statistics.fmean(float(r.get("timeLoss", "nan")) for r in rows
                                                    if float(r.get("arrival", "-1")) >= 0),
           "resco_delay_s": statistics.fmean(a + b for a, b in trips.values()),
           "depart_delay_s": statistics.fmean(v[1] for v in trips.values()), "wall_s": wall}
    return {"run": run, "trips": trips}


def sumo_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


def jammed(run: dict, trips_in_window: int) -> bool:
    inserted = run["finished"] + run["unfinished"]
    return run["not_inserted"] > JAM_SHARE * trips_in_window or run["unfinished"] > JAM_SHARE * max(inserted, 1)


def summary(runs: list[dict]) -> dict:
    out = {}
    for key in ("time_loss_s", "resco_delay_s", "time_loss_finished_s", "depart_delay_s", "finished", "unfinished",
                "not_inserted", "wall_s"):
        vals = [r[key] for r in runs]
        out[key] = {"median": statistics.median(vals), "mean": statistics.fmean(vals)}
    out["jammed_seeds"] = [r["seed"] for r in runs if r["jammed"]]
    return out


def by_origin(scenario: Scenario, ours: list[dict], theirs: list[dict], top: int = 8) -> list[dict]:
    """Vehicle-seconds of time loss + depart delay per origin link, pooled over the seeds on which
    neither simulator jammed."""
    calm = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if not a["run"]["jammed"]
            and not b["run"]["jammed"]]
    ours, theirs = [ours[i] for i in calm], [theirs[i] for i in calm]
    origin = {t.id: t.origin or scenario.demand.routes[t.route].links[0] for t in scenario.demand.trips}
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])  # n ours, sum ours, n sumo, sum sumo
    for k, runs in ((0, ours), (2, theirs)):
        for r in runs:
            for tid, (loss, delay) in r["trips"].items():
                a = acc[origin[tid]]
                a[k] += 1
                a[k + 1] += loss + delay
    rows = [{"origin": o, "greenwave_n": a[0], "greenwave_mean_s": a[1] / a[0] if a[0] else float("nan"),
             "sumo_n": a[2], "sumo_mean_s": a[3] / a[2] if a[2] else float("nan"),
             "excess_veh_s_per_seed": (a[1] - a[3]) / max(len(ours), 1)} for o, a in acc.items()]
    rows.sort(key=lambda r: -abs(r["excess_veh_s_per_seed"]))
    return rows[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="seeds 1..N (default 10)")
    ap.add_argument("--jobs", type=int, default=2, help="processes for Greenwave's runs and for SUMO's")
    ap.add_argument("--sumo", default=None, help="sumo binary (default: the one beside this Python, or on PATH)")
    ap.add_argument("--no-sumo", action="store_true", help="run Greenwave only")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "real_city_fidelity.json"))
    args = ap.parse_args()
    if not CONFIG.exists():
        print(f"ingolstadt7 not found at {CONFIG} (set GREENWAVE_SHARED)")
        return 2
    binary = None if args.no_sumo else sumo_binary(args.sumo)
    if binary is None and not args.no_sumo:
        print("SUMO is not installed (pip install eclipse-sumo): running Greenwave only")
    seeds = list(range(1, args.seeds + 1))
    t0 = time.perf_counter()
    scenario = import_sumocfg(CONFIG)
    in_window = sum(scenario.begin_s <= t.depart_s < scenario.end_s for t in scenario.demand.trips)
    result: dict = {"config": CONFIG.name, "seeds": seeds, "trips_in_window": in_window, "jam_share": JAM_SHARE,
                    "params": {k: getattr(DEFAULT_PARAMS, k) for k in DEFAULT_PARAMS.__slots__}}
    raw: dict[str, list[dict]] = {}
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for mode, dynamic in MODES.items():
            raw[f"greenwave_{mode}"] = list(pool.map(greenwave_run, [(scenario, s, dynamic) for s in seeds]))
    if binary is not None:
        result["sumo_version"] = sumo_version(binary)
        with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            raw["sumo"] = list(pool.map(lambda s: sumo_run(binary, s, in_window), seeds))
    for who, runs in raw.items():
        for r in runs:
            r["run"]["jammed"] = jammed(r["run"], in_window)
        result[who] = {"runs": [r["run"] for r in runs], "summary": summary([r["run"] for r in runs])}
    _print_table(result, seeds)
    if "sumo" in raw:
        result["ratios"] = _ratios(result)
        result["by_origin"] = by_origin(scenario, raw["greenwave_dynamic"], raw["sumo"])
        _print_ratios(result)
        _print_origins(result["by_origin"])
    result["wall_s"] = time.perf_counter() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_finite(result), indent=1) + "\n")
    print(f"\nwrote {out} ({result['wall_s']:.0f} s)")
    return 0


def _finite(obj):
    """NaN -> null, so the JSON stays standard."""
    if isinstance(obj, float):
        return None if obj != obj else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _ratios(result: dict) -> dict:
    sumo = result["sumo"]["summary"]
    out = {}
    for mode in MODES:
        ours = result[f"greenwave_{mode}"]["summary"]
        out[mode] = {f"{key}_{stat}": ours[key][stat] / sumo[key][stat]
                     for key in ("time_loss_s", "resco_delay_s") for stat in ("median", "mean")}
        out[mode]["target_met"] = abs(out[mode]["time_loss_s_median"] - 1.0) <= TARGET
    return out


def _cell(r: dict) -> str:
    return (f"{r['time_loss_s']:7.1f} {r['resco_delay_s']:7.1f} {r['finished']:5d} {r['unfinished']:4d} "
            f"{r['not_inserted']:4d} {'JAM' if r['jammed'] else '   '}")


def _print_table(result: dict, seeds: list[int]) -> None:
    who = [w for w in ("greenwave_dynamic", "greenwave_static", "sumo") if w in result]
    label = {"greenwave_dynamic": "Greenwave, dynamic routing", "greenwave_static": "Greenwave, static routes",
             "sumo": result.get("sumo_version", "SUMO")}
    print(f"ingolstadt7, {len(seeds)} seeds, {result['trips_in_window']} trips; per simulator: mean time loss s, "
          "RESCO metric s (time loss + depart delay), finished, unfinished, never inserted, jam flag")
    print("seed  " + "  | ".join(f"{label[w][:36]:36s}" for w in who))
    for i, seed in enumerate(seeds):
        print(f"{seed:4d}  " + "  | ".join(_cell(result[w]["runs"][i]) for w in who))
    for stat in ("median", "mean"):
        cells = []
        for w in who:
            s = result[w]["summary"]
            cells.append(f"{s['time_loss_s'][stat]:7.1f} {s['resco_delay_s'][stat]:7.1f} {s['finished'][stat]:5.0f} "
                         f"{s['unfinished'][stat]:4.0f} {s['not_inserted'][stat]:4.0f}    ")
        print(f"{stat:6s}" + "  | ".join(cells))
    for w in who:
        s = result[w]["summary"]
        print(f"  {label[w]}: jammed seeds {s['jammed_seeds'] or 'none'}; wall per run {s['wall_s']['median']:.2f} s")


def _print_ratios(result: dict) -> None:
    print("\nGreenwave / SUMO (target: median time loss within 15 %)")
    for mode, r in result["ratios"].items():
        print(f"  {mode:8s} routing: time loss median {r['time_loss_s_median']:.3f}, mean {r['time_loss_s_mean']:.3f}; "
              f"RESCO metric median {r['resco_delay_s_median']:.3f}, mean {r['resco_delay_s_mean']:.3f}  "
              f"-> {'met' if r['target_met'] else 'MISSED'}")


def _print_origins(rows: list[dict]) -> None:
    print("\nWhere they differ (dynamic routing): time loss + depart delay by origin link, pooled over the seeds "
          "where neither jams")
    print(f"  {'origin link':24s} {'GW n':>6s} {'GW mean s':>9s} {'SUMO n':>7s} {'SUMO mean s':>11s} "
          f"{'excess veh-s/seed':>18s}")
    for r in rows:
        print(f"  {r['origin']:24s} {r['greenwave_n']:6d} {r['greenwave_mean_s']:9.1f} {r['sumo_n']:7d} "
              f"{r['sumo_mean_s']:11.1f} {r['excess_veh_s_per_seed']:18.0f}")


if __name__ == "__main__":
    sys.exit(main())
