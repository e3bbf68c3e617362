"""Speed of the signal optimiser (CPU): bandwidth solve, arterial and network optimisation, and the
Numba performance index against its pure-Python twin, measured side by side in one run.

Usage: python benchmarks/optimizer_speed.py [--sizes 10,25,50,100,400] [--reps 5] [--out FILE.json]

Prints a table and writes JSON (default benchmarks/results/optimizer_speed.json). Times are
medians over ``--reps`` runs after a warm-up call (JIT compiled or loaded from cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signal_control import band_kernels
from signal_control.movement_demand import movement_demand
from signal_control.network_model import build_arrays
from signal_control.optimize import optimize
from signal_control.params import SUMO_MICRO, DelayParams
from signal_control.reference import network_pi_py
from signal_control.synthetic_grid import make_grid_scenario
from traffic.scenario_io import load_scenario

GRIDS = {10: (2, 5), 25: (5, 5), 50: (5, 10), 100: (10, 10), 400: (20, 20)}


def median_time(fn, reps: int) -> float:
    fn()  # warm-up (JIT)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bandwidth_12(reps: int) -> dict:
    rng = np.random.default_rng(3)
    n, cycle = 12, 90.0
    g_out, g_in = rng.uniform(0.35, 0.6, n) * cycle, rng.uniform(0.35, 0.6, n) * cycle
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(150, 600, n - 1) / 13.89)])
    alpha = rng.uniform(0, cycle, n) - t
    delta = rng.uniform(0, cycle, n) + t - alpha
    s = median_time(lambda: band_kernels.band_solve(alpha, delta, g_out, g_in, cycle, 1.0, 1.0, 0.5), max(reps, 20))
    return {"case": "bandwidth solve, 12-signal arterial", "median_s": s, "target_s": 0.05}


def arterial(reps: int) -> list[dict]:
    sc = load_scenario("arterial")
    fixed = median_time(lambda: optimize(sc, "delay", webster=SUMO_MICRO, cycle_s=51.0), reps)
    full = median_time(lambda: optimize(sc, "delay", webster=SUMO_MICRO), reps)
    return [{"case": "arterial 6 signals: splits + offsets at one cycle (3 starts)", "median_s": fixed,
             "target_s": 0.5},
            {"case": "arterial 6 signals: cycle search + splits + offsets", "median_s": full, "target_s": None}]


def pi_ratio(reps: int) -> list[dict]:
    rows = []
    for label, sc in (("arterial", load_scenario("arterial")), ("grid 5x5", load_scenario("grid"))):
        arrays = build_arrays(sc, sc.active_plan_set(), movement_demand(sc), SUMO_MICRO, DelayParams())
        lists = arrays.as_lists()
        off, grn = arrays.offsets, arrays.greens
        t_nb = median_time(lambda a=arrays: a.pi(sweeps=4), max(reps, 20))
        t_py = median_time(lambda x=lists, o=off, g=grn: network_pi_py(x, o.tolist(), g.tolist(), 4), max(1, reps // 2))
        rows.append({"case": f"performance index, {label} ({len(arrays.streams)} streams)", "numba_s": t_nb,
                     "python_s": t_py, "speedup": t_py / t_nb, "target_speedup": 50})
    return rows


def scaling(sizes: list[int], reps: int) -> list[dict]:
    rows = []
    for n_sig in sizes:
        nx, ny = GRIDS[n_sig]
        t0 = time.perf_counter()
        sc = make_grid_scenario(max(nx, ny), od_per_entry=20) if nx == ny else _rect(nx, ny)
        build = time.perf_counter() - t0
        r = max(1, reps if n_sig <= 100 else 1)
        cycle = 44.0
        t_fixed = median_time(lambda s=sc, c=cycle: optimize(s, "delay", webster=SUMO_MICRO, cycle_s=c), r)
        t_full = median_time(lambda s=sc: optimize(s, "delay", webster=SUMO_MICRO), 1) if n_sig <= 100 else None
        rows.append({"signals": len(sc.intersections), "grid": f"{nx}x{ny}", "scenario_build_s": build,
                     "fixed_cycle_s": t_fixed, "with_cycle_search_s": t_full,
                     "target_s": 10.0 if n_sig == 100 else None})
        print(f"  {len(sc.intersections):4d} signals: fixed cycle {t_fixed:.2f} s"
              + (f", with cycle search {t_full:.2f} s" if t_full else ""), flush=True)
    return rows


def _rect(nx: int, ny: int):
    """Rectangular grids are cut from the square grid of the larger side (same design)."""
    from dataclasses import replace

    sc = make_grid_scenario(max(nx, ny), od_per_entry=20)
    keep = {f"n{i}_{j}" for i in range(nx) for j in range(ny)}
    return replace(sc, intersections={k: v for k, v in sc.intersections.items() if k in keep},
                   plans={k: v for k, v in sc.plans.items() if k in keep},
                   active_plans={k: v for k, v in sc.active_plans.items() if k in keep})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,25,50,100,400")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "optimizer_speed.json"))
    a = ap.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} (2 cores)")
    res = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_before": load}}
    res["bandwidth"] = bandwidth_12(a.reps)
    res["arterial"] = arterial(a.reps)
    res["pi_numba_vs_python"] = pi_ratio(a.reps)
    print("scaling (grid networks of the reference design, delay method):")
    res["scaling"] = scaling([int(s) for s in a.sizes.split(",")], a.reps)
    res["machine"]["loadavg_after"] = os.getloadavg()
    print()
    print(f"{'case':68s} {'median':>10s} {'target':>8s}")
    b = res["bandwidth"]
    print(f"{b['case']:68s} {b['median_s'] * 1000:8.2f} ms {'< 50 ms':>8s}")
    for r in res["arterial"]:
        target = f"< {r['target_s']:g} s" if r["target_s"] else ""
        print(f"{r['case']:68s} {r['median_s']:8.3f} s  {target:>8s}")
    for r in res["pi_numba_vs_python"]:
        print(f"{r['case']:68s} numba {r['numba_s'] * 1e3:.3f} ms, python {r['python_s'] * 1e3:.1f} ms, "
              f"x{r['speedup']:.0f} (target x50)")
    print(f"\n{'signals':>8s} {'grid':>6s} {'fixed cycle s':>14s} {'with cycle search s':>20s}")
    for r in res["scaling"]:
        full = f"{r['with_cycle_search_s']:.2f}" if r["with_cycle_search_s"] else "-"
        print(f"{r['signals']:8d} {r['grid']:>6s} {r['fixed_cycle_s']:14.2f} {full:>20s}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"\nwrote {a.out}; load average after: {res['machine']['loadavg_after'][0]:.2f}")


if __name__ == "__main__":
    main()
