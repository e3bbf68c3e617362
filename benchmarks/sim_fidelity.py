"""Greenwave's simulator against SUMO 1.28 micro (and meso) on the reference scenarios.

Prints tables and writes JSON. SUMO reference figures come from ``../shared/reference``
(10 seeds, REPORT.md conventions). The plan-ranking study runs SUMO micro itself when
``eclipse-sumo`` is installed (12 plans x 10 seeds; about 3 minutes on 2 cores).

    python benchmarks/sim_fidelity.py [--seeds 10] [--no-ranking] [--out benchmarks/results/sim_fidelity.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
REF = SHARED / "reference"

from simulation import DEFAULT_PARAMS, Simulation, simulate_seeds  # noqa: E402
from traffic.scenario import Scenario  # noqa: E402
from traffic.scenario_io import load_scenario  # noqa: E402
from traffic.signal_plan import SignalPlan  # noqa: E402

ISO = ("x050", "x080", "x095")
ISO_TOL = {"x050": 0.10, "x080": 0.10, "x095": 0.20}


def pooled_sumo_control_delay(level: dict) -> dict[str, float]:
    """Pool the four approaches' lane groups (n-weighted), as REPORT.md section 5 does."""
    out = {}
    for kind, suffix in (("through_right", "_TR"), ("left", "_L")):
        groups = [g["1h"] for k, g in level["groups"].items() if k.endswith(suffix)]
        n = sum(g["n"] for g in groups)
        out[kind] = sum(g["control_delay"] * g["n"] for g in groups) / n
    return out


def saturation_flow(seed: int = 42) -> dict[str, float]:
    """Measured as calibrate_satflow.py does: vehicles per cycle with the real plan (N_c, after
    the first 10 min), and the mean headway of queue positions 5..25 with 60-s greens."""
    sc = load_scenario("isolated_sat")
    out: dict[str, float] = {}
    for mode in ("A", "B"):
        s2 = sc
        if mode == "B":
            plan = sc.active_plan("C")
            s2 = sc.with_plans({"C": plan.with_greens([60.0] * len(plan.phases), name="calib")})
        sim = Simulation(s2, seed, record_departures=True).run()
        cycle = s2.active_plan("C").cycle_s
        per_lane: dict[tuple[str, int], list[float]] = {}
        for t, link, lane in sim.departures:
            per_lane.setdefault((link, lane), []).append(t)
        first, last = int(600 // cycle) + 1, int(3600 // cycle)
        found: dict[str, list[float]] = {}
        for (_link, lane), times in per_lane.items():
            kind = "through_right" if lane == 0 else "left"
            ts = np.asarray(times)
            if mode == "A":
                counts = [np.sum((ts >= c * cycle) & (ts < (c + 1) * cycle)) for c in range(first, last)]
                found.setdefault(f"{kind}_Nc", []).append(float(np.mean(counts)))
            else:
                for c in range(first, last):
                    w = np.sort(ts[(ts >= c * cycle) & (ts < (c + 1) * cycle)])
                    found.setdefault(f"{kind}_h_s", []).extend(np.diff(w)[4:25].tolist())
        for key, values in found.items():
            out[key] = float(np.mean(values))
    for kind in ("through_right", "left"):
        out[f"{kind}_s_veh_h"] = 3600.0 / out[f"{kind}_h_s"]
    return out


def isolated(seeds: list[int], jobs: int) -> list[dict]:
    webster = json.loads((REF / "sumo" / "results" / "webster.json").read_text())
    rows = []
    for x in ISO:
        r = simulate_seeds(load_scenario(f"isolated_{x}"), seeds, jobs=jobs)
        micro = pooled_sumo_control_delay(webster["micro"]["levels"][x])
        meso = pooled_sumo_control_delay(webster["meso"]["levels"][x])
        for kind, suffix in (("through_right", "#0"), ("left", "#1")):
            ours = float(np.mean([g["control_delay_s"] for g in r["lane_groups"] if g["lane_group"].endswith(suffix)]))
            err = ours / micro[kind] - 1
            rows.append({"case": f"isolated_{x}", "lane_group": kind, "greenwave_s": ours, "sumo_micro_s": micro[kind],
                         "sumo_meso_s": meso[kind], "error": err, "meso_error": meso[kind] / micro[kind] - 1,
                         "target": ISO_TOL[x], "pass": abs(err) <= ISO_TOL[x]})
    return rows


def arterial_and_grid(seeds: list[int], jobs: int) -> dict:
    base = json.loads((REF / "sumo_tools" / "baselines.json").read_text())
    art = load_scenario("arterial")
    out: dict = {"arterial": {}, "grid": {}}
    for plan in ("zero", "greenwave"):
        r = simulate_seeds(art.select_plan(plan), seeds, jobs=jobs)
        micro, meso = base[f"arterial_{plan}"]["micro"], base[f"arterial_{plan}"]["meso"]
        out["arterial"][plan] = {
            "greenwave": {"all": r["metrics"]["mean_time_loss_s"],
                          **{g: r["route_groups"][g]["mean_time_loss_s"] for g in ("EB_through", "WB_through")}},
            "sumo_micro": {"all": micro["all"]["time_loss"]["mean"],
                           **{g: micro["groups"][g]["time_loss"]["mean"] for g in ("EB_through", "WB_through")}},
            "sumo_meso": {"all": meso["all"]["time_loss"]["mean"],
                          **{g: meso["groups"][g]["time_loss"]["mean"] for g in ("EB_through", "WB_through")}},
        }
    r = simulate_seeds(load_scenario("grid"), seeds, jobs=jobs)
    micro, meso = base["grid"]["micro"], base["grid"]["meso"]
    out["grid"] = {"greenwave": {"travel_time": r["metrics"]["mean_travel_time_s"],
                                 "time_loss": r["metrics"]["mean_time_loss_s"]},
                   "sumo_micro": {"travel_time": micro["all"]["travel_time"]["mean"],
                                  "time_loss": micro["all"]["time_loss"]["mean"]},
                   "sumo_meso": {"travel_time": meso["all"]["travel_time"]["mean"],
                                 "time_loss": meso["all"]["time_loss"]["mean"]}}
    return out


def candidate_plans(art: Scenario) -> dict[str, dict[str, SignalPlan]]:
    """12 arterial plans from the zero-offset 90-s plan to good green waves (fixed, reproducible)."""
    xs = {f"I{i + 1}": x for i, x in enumerate((0, 300, 550, 950, 1300, 1600))}
    base = {iid: art.plans[iid]["zero"] for iid in xs}
    rng = np.random.default_rng(2026)

    def make(cycle_greens: tuple[float, float] | None, offsets: dict[str, float]) -> dict[str, SignalPlan]:
        plans = {}
        for iid, p in base.items():
            q = p.with_greens(cycle_greens, name="cand") if cycle_greens else replace(p, name="cand")
            plans[iid] = q.with_offset(offsets[iid] % q.cycle_s)
        return plans

    eb = {i: round(x / 13.89) for i, x in xs.items()}
    wb = {i: round((1600 - x) / 13.89) for i, x in xs.items()}
    slow = {i: round(x / 11.0) for i, x in xs.items()}
    zero = dict.fromkeys(xs, 0.0)
    alt90 = {i: (45.0 if k % 2 else 0.0) for k, i in enumerate(xs)}
    alt60 = {i: (30.0 if k % 2 else 0.0) for k, i in enumerate(xs)}
    return {
        "90s_zero": make(None, zero),
        "90s_eb_wave": make(None, eb),
        "90s_wb_wave": make(None, wb),
        "90s_eb_wave_11ms": make(None, slow),
        "90s_alternating": make(None, alt90),
        "90s_random_a": make(None, {i: float(rng.integers(0, 90)) for i in xs}),
        "90s_random_b": make(None, {i: float(rng.integers(0, 90)) for i in xs}),
        "90s_60_20_zero": make((60.0, 20.0), zero),
        "90s_60_20_eb_wave": make((60.0, 20.0), eb),
        "60s_zero": make((32.0, 18.0), zero),
        "60s_eb_wave": make((32.0, 18.0), eb),
        "60s_alternating": make((32.0, 18.0), alt60),
    }


def kendall_tau(a: list[float], b: list[float]) -> float:
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += int(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]))
    return 2.0 * s / (n * (n - 1))


def ranking(seeds: list[int], jobs: int) -> dict | None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _sumo_eval import run_plans, sumo_binary

    if sumo_binary() is None:
        print("ranking study skipped: SUMO is not installed (pip install eclipse-sumo)")
        return None
    art = load_scenario("arterial")
    rows = {}
    for name, plans in candidate_plans(art).items():
        ours = simulate_seeds(art.with_plans(plans), seeds, jobs=jobs)["metrics"]["mean_time_loss_s"]
        sumo = run_plans(art, plans, "arterial", seeds)["all"]["mean"]
        rows[name] = {"greenwave_s": ours, "sumo_micro_s": sumo}
        print(f"  {name:20s} greenwave {ours:6.1f} s   SUMO micro {sumo:6.1f} s", flush=True)
    names = list(rows)
    ours = [rows[n]["greenwave_s"] for n in names]
    theirs = [rows[n]["sumo_micro_s"] for n in names]
    best_ours = names[int(np.argmin(ours))]
    best_sumo = min(theirs)
    return {"plans": rows, "kendall_tau": kendall_tau(ours, theirs), "greenwave_best": best_ours,
            "sumo_micro_best": names[int(np.argmin(theirs))],
            "greenwave_best_in_sumo_vs_sumo_best": rows[best_ours]["sumo_micro_s"] / best_sumo - 1}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-ranking", action="store_true", help="skip the 12-plan ranking study (needs SUMO)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "sim_fidelity.json"))
    args = ap.parse_args()
    if not REF.is_dir():
        print(f"reference data not found at {REF} (set GREENWAVE_SHARED)")
        return 2
    seeds = list(range(1, args.seeds + 1))
    t0 = time.perf_counter()
    result: dict = {"seeds": seeds, "params": {k: getattr(DEFAULT_PARAMS, k) for k in DEFAULT_PARAMS.__slots__}}

    sat = saturation_flow()
    result["saturation_flow"] = sat
    print("Saturation flow (isolated_sat, as calibrate_satflow.py; SUMO micro: 1721 / 1666 veh/h, "
          "N_c 11.76 / 4.25)")
    print(f"  through+right: {sat['through_right_s_veh_h']:.0f} veh/h ({sat['through_right_s_veh_h'] / 1721 - 1:+.1%}),"
          f" N_c {sat['through_right_Nc']:.2f};  left: {sat['left_s_veh_h']:.0f} veh/h "
          f"({sat['left_s_veh_h'] / 1666 - 1:+.1%}), N_c {sat['left_Nc']:.2f}")

    iso = isolated(seeds, args.jobs)
    result["isolated"] = iso
    print(f"\nIsolated intersection, control delay per lane group ({len(seeds)} seeds x 4 approaches)")
    print(f"  {'case':15s} {'lane group':14s} {'Greenwave':>10s} {'SUMO micro':>11s} {'error':>7s} {'target':>7s} "
          f"{'SUMO meso':>10s} {'meso err':>9s}")
    for r in iso:
        print(f"  {r['case']:15s} {r['lane_group']:14s} {r['greenwave_s']:10.1f} {r['sumo_micro_s']:11.1f} "
              f"{r['error']:+7.1%} {'<=' + format(r['target'], '.0%'):>7s} {r['sumo_meso_s']:10.1f} "
              f"{r['meso_error']:+9.1%}")

    ag = arterial_and_grid(seeds, args.jobs)
    result.update(ag)
    print("\nArterial, time loss s (all vehicles; through traffic per direction)")
    print(f"  {'offsets':10s} {'':6s} {'Greenwave':>10s} {'SUMO micro':>11s} {'error':>7s} {'SUMO meso':>10s} "
          f"{'meso err':>9s}")
    for plan, d in ag["arterial"].items():
        for key in ("all", "EB_through", "WB_through"):
            g, m, me = d["greenwave"][key], d["sumo_micro"][key], d["sumo_meso"][key]
            print(f"  {plan:10s} {key:10s} {g:6.1f} {m:11.1f} {g / m - 1:+7.1%} {me:10.1f} {me / m - 1:+9.1%}")
    wave = {}
    for who in ("greenwave", "sumo_micro", "sumo_meso"):
        z, w = ag["arterial"]["zero"][who], ag["arterial"]["greenwave"][who]
        wave[who] = {"EB_change": w["EB_through"] / z["EB_through"] - 1,
                     "WB_change": w["WB_through"] / z["WB_through"] - 1}
    result["green_wave_effect"] = wave
    print("  green-wave effect (greenwave vs zero offsets): "
          + ";  ".join(f"{who}: EB {v['EB_change']:+.0%}, WB {v['WB_change']:+.0%}" for who, v in wave.items()))
    g = ag["grid"]
    print("\n5x5 grid, 3,000 veh/h")
    for key in ("travel_time", "time_loss"):
        a, m, me = g["greenwave"][key], g["sumo_micro"][key], g["sumo_meso"][key]
        print(f"  mean {key:12s} Greenwave {a:6.1f} s  SUMO micro {m:6.1f} s ({a / m - 1:+.1%})  "
              f"SUMO meso {me:6.1f} s ({me / m - 1:+.1%})")

    if not args.no_ranking:
        print(f"\nRanking of 12 arterial plans by all-vehicle time loss ({len(seeds)} seeds each)")
        rk = ranking(seeds, args.jobs)
        if rk:
            result["ranking"] = rk
            print(f"  Kendall tau = {rk['kendall_tau']:.2f} (target >= 0.8); Greenwave's best "
                  f"({rk['greenwave_best']}) is {rk['greenwave_best_in_sumo_vs_sumo_best']:+.1%} from SUMO's best "
                  f"({rk['sumo_micro_best']}) in SUMO micro (target <= 3%)")
    result["wall_s"] = time.perf_counter() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=lambda o: None if isinstance(o, float) and math.isnan(o)
                              else str(o)) + "\n")
    print(f"\nwrote {out} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
