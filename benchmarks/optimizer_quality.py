"""Quality of Greenwave's signal optimiser against SUMO's own tools, judged in SUMO micro (10 seeds,
the command line of ../shared/reference/sumo_tools) and, when ``simulation.simulate`` is importable,
in Greenwave's simulator too.

Cases:
  arterial   whole plan (delay method: cycle, splits, offsets) and bandwidth method, against the
             tool chain ``tlsCycleAdaptation.py -u`` + ``tlsCoordinator.py`` and the 90-s zero-offset plan
  waves      offsets only, at the reference 90-s cycle and splits (delay and bandwidth offsets)
  grid       5x5 grid, delay method, against the tool chain
  isolated   Webster plan against the best fixed plan found by brute force over cycle and
             through/left split (searched in Greenwave's simulator, or SUMO when it is absent),
             both then run in SUMO and the simulator

  maxband    50 random arterials: Numba bandwidth against the exact MILP (scipy/HiGHS)

Usage: python benchmarks/optimizer_quality.py [--cases maxband,arterial,waves,grid,isolated] [--seeds 10]
       [--sim-seeds 10] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._sumo_eval import SEEDS, TOOLS, run_plans, sumo_binary
from signal_control.optimize import optimize
from signal_control.params import SUMO_MICRO
from traffic.plan_validation import validate_plan
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario
from traffic.signal_plan import SignalPlan

try:
    from simulation import simulate_seeds
except ImportError:  # the simulator is another issue; SUMO alone judges then
    simulate_seeds = None

# free-flow time loss per movement in SUMO micro (../shared/reference/sumo/results/webster.json):
# control delay = time loss - free-flow time loss
FREEFLOW_S = {"s": 2.754, "r": 4.402, "l": 3.381}


def tools_reference() -> dict:
    """SUMO's tools and the baselines as measured in ../shared/reference/sumo_tools (10 seeds)."""
    tools = json.loads((TOOLS / "tls_tools.json").read_text())
    base = json.loads((TOOLS / "baselines.json").read_text())

    def pick(run: dict) -> dict:
        out = {"all": run["all"]["time_loss"]["mean"]}
        for g in ("EB_through", "WB_through"):
            if g in run.get("groups", {}):
                out[g] = run["groups"][g]["time_loss"]["mean"]
        return out

    return {"arterial_zero": pick(base["arterial_zero"]["micro"]), "grid_90": pick(base["grid"]["micro"]),
            "arterial_greenwave": pick(base["arterial_greenwave"]["micro"]),
            **{f"arterial_{k}": pick(v) for k, v in tools["arterial"]["runs"].items()},
            **{f"grid_{k}": pick(v) for k, v in tools["grid"]["runs"].items()}}


def in_simulator(scenario: Scenario, plans: dict[str, SignalPlan], seeds: int) -> dict | None:
    if simulate_seeds is None or seeds <= 0:
        return None
    res = simulate_seeds(scenario.with_plans(plans), range(1, seeds + 1), jobs=2)
    out = {"all": res["metrics"]["mean_time_loss_s"]}
    for g in ("EB_through", "WB_through"):
        if g in res.get("route_groups", {}):
            out[g] = res["route_groups"][g]["mean_time_loss_s"]
    return out


def judge(scenario: Scenario, name: str, plans: dict[str, SignalPlan], seeds: list[int], sim_seeds: int) -> dict:
    sumo = run_plans(scenario, plans, name, seeds)
    return {"sumo": {k: v["mean"] for k, v in sumo.items()}, "sumo_sd": {k: v["sd"] for k, v in sumo.items()},
            "simulator": in_simulator(scenario, plans, sim_seeds)}


def plan_brief(plans: dict[str, SignalPlan]) -> dict:
    return {i: {"cycle_s": p.cycle_s, "offset_s": p.offset_s, "greens_s": [ph.green_s for ph in p.phases]}
            for i, p in plans.items()}


def case_maxband(seeds, sim_seeds) -> dict:
    """50 random arterials (4-12 signals, spacings 150-600 m, speeds 10-17 m/s, weights, fixed splits):
    the Numba method's weighted two-way band against the exact MILP optimum, same model."""
    import numpy as np

    from signal_control import band_kernels
    from signal_control.maxband_milp import maxband_milp

    rng = np.random.default_rng(2024)
    rows = []
    for _ in range(50):
        n, cycle = int(rng.integers(4, 13)), float(rng.integers(60, 121))
        g_out, g_in = rng.uniform(0.35, 0.65, n) * cycle, rng.uniform(0.35, 0.65, n) * cycle
        speed = rng.uniform(10.0, 17.0)
        t_out = np.concatenate([[0.0], np.cumsum(rng.uniform(150, 600, n - 1) / speed)])
        start = rng.uniform(0, cycle, n)
        alpha = start - t_out
        delta = (start + rng.uniform(0, cycle, n) * (rng.random() < 0.5)) + t_out - alpha
        w_out, w_in = 1.0, float(rng.choice([0.5, 0.75, 1.0, 1.5, 2.0]))
        t0 = time.perf_counter()
        _, b = band_kernels.band_solve(alpha, delta, g_out, g_in, cycle, w_out, w_in, 0.5)
        t_nb = time.perf_counter() - t0
        t0 = time.perf_counter()
        bo, bi, _ = maxband_milp(alpha, delta, g_out, g_in, cycle, w_out, w_in, 0.5)
        t_milp = time.perf_counter() - t0
        rows.append({"signals": n, "cycle_s": cycle, "w_in": w_in, "numba": [float(b[0]), float(b[1])],
                     "milp": [bo, bi], "ratio": (w_out * b[0] + w_in * b[1]) / max(1e-12, w_out * bo + w_in * bi),
                     "eff_out_pct": 100 * b[0] / cycle, "eff_in_pct": 100 * b[1] / cycle,
                     "numba_s": t_nb, "milp_s": t_milp})
    return {"rows": rows, "min_ratio": min(r["ratio"] for r in rows),
            "mean_eff_out_pct": statistics.fmean(r["eff_out_pct"] for r in rows),
            "mean_eff_in_pct": statistics.fmean(r["eff_in_pct"] for r in rows),
            "median_numba_ms": 1e3 * statistics.median(r["numba_s"] for r in rows),
            "median_milp_ms": 1e3 * statistics.median(r["milp_s"] for r in rows)}


def case_arterial(seeds, sim_seeds) -> dict:
    sc = load_scenario("arterial")
    out = {}
    for label, kw in (("delay", {"method": "delay"}), ("bandwidth", {"method": "bandwidth"})):
        t0 = time.perf_counter()
        r = optimize(sc, webster=SUMO_MICRO, **kw)
        out[label] = {"optimise_s": time.perf_counter() - t0, "predicted": r.summary(), "plans": plan_brief(r.plans),
                      **judge(sc, "arterial", r.plans, seeds, sim_seeds)}
    out["zero_90_simulator"] = in_simulator(sc, sc.active_plan_set(), sim_seeds)
    return out


def case_waves(seeds, sim_seeds) -> dict:
    sc = load_scenario("arterial")
    out = {}
    for label, method in (("delay_offsets", "delay"), ("bandwidth_offsets", "bandwidth")):
        r = optimize(sc, method, keep_splits=True, webster=SUMO_MICRO)
        out[label] = {"predicted": r.summary(), "plans": plan_brief(r.plans), **judge(sc, "arterial", r.plans, seeds,
                                                                                      sim_seeds)}
    return out


def case_grid(seeds, sim_seeds) -> dict:
    sc = load_scenario("grid")
    t0 = time.perf_counter()
    r = optimize(sc, "delay", webster=SUMO_MICRO)
    res = {"optimise_s": time.perf_counter() - t0, "predicted": r.summary(), **judge(sc, "grid", r.plans, seeds,
                                                                                     sim_seeds)}
    res["grid_90_simulator"] = in_simulator(sc, sc.active_plan_set(), sim_seeds)
    return {"delay": res}


def _isolated_plan(base: SignalPlan, cycle: float, left_share: float) -> SignalPlan:
    inter = sum(p.yellow_s + p.all_red_s for p in base.phases)
    green = cycle - inter
    left = max(5.0, round(green / 2 * left_share))
    through = green / 2 - left
    return base.with_greens([through, left, through, left], name="brute")


def control_delay(scenario: Scenario, time_loss: float) -> float:
    """Mean time loss minus the demand-weighted SUMO free-flow time loss of the movements."""
    w = {k: 0.0 for k in FREEFLOW_S}
    for f in scenario.demand.flows:
        w[f.id.rsplit("_", 1)[-1]] += f.expected_vehicles()
    ff = sum(FREEFLOW_S[k] * v for k, v in w.items()) / sum(w.values())
    return time_loss - ff


def case_isolated(seeds, sim_seeds) -> dict:
    out = {}
    judge_in = "simulator" if simulate_seeds is not None else "sumo"
    for name in ("isolated_x050", "isolated_x080", "isolated_x095"):
        sc = load_scenario(name)
        base = sc.active_plan("C")
        web = optimize(sc, "webster", webster=SUMO_MICRO).plans
        # only plans that could be deployed: those the safety rules (pedestrian minimums included) accept
        grid = [(c, f) for c in range(40, 125, 5) for f in (0.2, 0.25, 0.3, 0.35, 0.4)
                if not validate_plan(_isolated_plan(base, float(c), f), sc.intersections["C"])]
        scores = {}
        for c, f in grid:
            p = {"C": _isolated_plan(base, float(c), f)}
            scores[(c, f)] = (in_simulator(sc, p, 5)["all"] if judge_in == "simulator"
                              else run_plans(sc, p, name, SEEDS[:5])["all"]["mean"])
        top = sorted(scores, key=scores.get)[:3]
        finals = {}
        for c, f in top:
            p = {"C": _isolated_plan(base, float(c), f)}
            finals[(c, f)] = judge(sc, name, p, seeds, sim_seeds)
        key = "simulator" if judge_in == "simulator" else "sumo"
        best = min(finals, key=lambda k: finals[k][key]["all"])
        w = judge(sc, name, web, seeds, sim_seeds)
        row = {"judged_in": judge_in, "webster_plan": plan_brief(web), "webster": w,
               "best_fixed": {"cycle_s": best[0], "left_share": best[1], **finals[best]},
               "plans_searched": len(grid)}
        for where in ("sumo", "simulator"):
            if w.get(where) is None:
                continue
            cd_w = control_delay(sc, w[where]["all"])
            cd_b = control_delay(sc, finals[best][where]["all"])
            row[f"{where}_control_delay_webster_s"] = cd_w
            row[f"{where}_control_delay_best_s"] = cd_b
            row[f"{where}_webster_vs_best_pct"] = 100 * (cd_w / cd_b - 1)
        out[name] = row
    return out


def pct(a: float, b: float) -> str:
    return f"{100 * (a / b - 1):+.1f}%"


def report(res: dict, ref: dict) -> None:
    if "maxband" in res:
        m = res["maxband"]
        print(f"\nMAXBAND optimality, 50 random arterials: worst Numba/MILP weighted band {100 * m['min_ratio']:.2f}%;"
              f" mean efficiency outbound {m['mean_eff_out_pct']:.1f}%, inbound {m['mean_eff_in_pct']:.1f}% of the"
              f" cycle; median solve Numba {m['median_numba_ms']:.2f} ms, MILP {m['median_milp_ms']:.1f} ms")
    if "arterial" in res:
        z, t = ref["arterial_zero"], ref["arterial_adapt_u_coord"]
        print("\nArterial, all-vehicle / EB through / WB through time loss (s), SUMO micro 10 seeds")
        print(f"  {'90-s zero offsets (baseline)':44s} {z['all']:6.1f} {z['EB_through']:6.1f} {z['WB_through']:6.1f}")
        print(f"  {'SUMO tools: adapt -u + coordinator':44s} {t['all']:6.1f} {t['EB_through']:6.1f} "
              f"{t['WB_through']:6.1f}")
        for k in ("delay", "bandwidth"):
            r = res["arterial"][k]
            s = r["sumo"]
            sim = r["simulator"]
            label = f"Greenwave {k} (C={r['predicted']['cycle_s']:g} s)"
            tail = f" | simulator {sim['all']:.1f} / {sim['EB_through']:.1f} / {sim['WB_through']:.1f}" if sim else ""
            print(f"  {label:44s} {s['all']:6.1f} {s['EB_through']:6.1f} {s['WB_through']:6.1f}   vs tools "
                  f"{pct(s['all'], t['all'])}, vs baseline {pct(s['all'], z['all'])}{tail}")
    if "waves" in res:
        z = ref["arterial_zero"]
        print("\nGreen waves alone (90-s cycle, reference splits), SUMO micro 10 seeds")
        for k, lab in (("arterial_greenwave", "hand-made EB wave"), ("arterial_ref90_coord", "tlsCoordinator")):
            if k in ref:
                r = ref[k]
                print(f"  {lab:44s} {r['all']:6.1f} {r.get('EB_through', float('nan')):6.1f} "
                      f"{r.get('WB_through', float('nan')):6.1f}  {pct(r['all'], z['all'])}")
        for k in ("delay_offsets", "bandwidth_offsets"):
            s = res["waves"][k]["sumo"]
            print(f"  {'Greenwave ' + k:44s} {s['all']:6.1f} {s['EB_through']:6.1f} {s['WB_through']:6.1f}  "
                  f"{pct(s['all'], z['all'])} (EB {pct(s['EB_through'], z['EB_through'])}, "
                  f"WB {pct(s['WB_through'], z['WB_through'])})")
    if "grid" in res:
        z, t = ref["grid_90"], ref["grid_adapt_u_coord"]
        s = res["grid"]["delay"]["sumo"]
        print(f"\nGrid 5x5: baseline {z['all']:.1f}, tools {t['all']:.1f}, Greenwave delay {s['all']:.1f} s "
              f"({pct(s['all'], t['all'])} vs tools, {pct(s['all'], z['all'])} vs baseline)")
    if "isolated" in res:
        print("\nIsolated: Webster vs best fixed plan (control delay s)")
        for name, r in res["isolated"].items():
            parts = [f"{w}: {r[f'{w}_control_delay_webster_s']:.1f} vs {r[f'{w}_control_delay_best_s']:.1f} "
                     f"({r[f'{w}_webster_vs_best_pct']:+.1f}%)" for w in ("sumo", "simulator")
                     if f"{w}_control_delay_webster_s" in r]
            print(f"  {name}: Webster C={r['webster_plan']['C']['cycle_s']:g}, best C={r['best_fixed']['cycle_s']}"
                  f" left share {r['best_fixed']['left_share']}; " + "; ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="maxband,arterial,waves,grid,isolated")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sim-seeds", type=int, default=10)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "optimizer_quality.json"))
    a = ap.parse_args()
    if sumo_binary() is None:
        sys.exit("SUMO is not installed (pip install -e '.[dev]')")
    seeds = list(range(1, a.seeds + 1))
    ref = tools_reference()
    res: dict = {"seeds": seeds, "simulator": simulate_seeds is not None, "reference": ref}
    fns = {"maxband": case_maxband, "arterial": case_arterial, "waves": case_waves, "grid": case_grid,
           "isolated": case_isolated}
    for case in a.cases.split(","):
        t0 = time.perf_counter()
        res[case] = fns[case](seeds, a.sim_seeds)
        print(f"[{case} done in {time.perf_counter() - t0:.0f} s]", flush=True)
    report(res, ref)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
