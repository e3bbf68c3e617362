"""A real city in SUMO: ingolstadt7 (RESCO) under fixed time, max pressure and Greenwave's adaptive control.

Every controller drives SUMO's own signals through libsumo in the loop (simulation/sumo_control.py):
lane-area detectors added by Greenwave on the approaches stand in for cameras, the signals show
only their own program's stages, with the program's yellow and all-red and a 5-s minimum green.

  fixed         the net's own static 90-s programs (SUMO runs them untouched)
  max_pressure  Greenwave's max pressure (Varaiya 2013; signal_control/max_pressure.py)
  adaptive      Greenwave's adaptive stage control (signal_control/adaptive_stage.py)

The metric is RESCO's: mean of timeLoss + departDelay over every tripinfo, vehicles still driving
at the end included (--tripinfo-output.write-unfinished), the same seeds for every controller,
medians beside means (SUMO gridlocks on some seeds). Each SUMO version runs in its own processes:
the installed SUMO (eclipse-sumo, e.g. 1.28) and, with --sumo-home-1-9-1, SUMO 1.9.1, the version
RESCO's published results come from (pip install --target DIR eclipse-sumo==1.9.1; pass DIR/sumo).

Published (RESCO, SUMO 1.9.1): fixed 91.3 s, greedy 80.6, max pressure 46.8, MPLight 48.2, IDQN 31.2.

Usage: python benchmarks/real_city.py [--seeds 10] [--jobs 2] [--sumo-home-1-9-1 DIR]
       [--controllers fixed,max_pressure,adaptive] [--out benchmarks/results/real_city.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
CONFIG = SHARED / "reference" / "resco" / "ingolstadt7" / "ingolstadt7.sumocfg"
PUBLISHED = {"fixed": 91.31, "greedy": 80.56, "max_pressure": 46.82, "mplight": 48.21, "idqn_best": 31.19}
CONTROLLERS = ("fixed", "max_pressure", "adaptive")
CLI_NAME = {"fixed": "fixed", "max_pressure": "max-pressure", "adaptive": "adaptive-stage"}  # signal_control.registry


def summarise(runs: list[dict], seeds: list[int]) -> dict:
    table: dict = {}
    for r in runs:
        table.setdefault(r["version"], {}).setdefault(r["controller"], {})[r["seed"]] = r
    out: dict = {}
    for version, by_ctl in table.items():
        for ctl, per_seed in by_ctl.items():
            v = [per_seed[s]["resco_delay_s"] for s in seeds]
            row = {"per_seed_s": {s: round(per_seed[s]["resco_delay_s"], 2) for s in seeds},
                   "median_s": statistics.median(v), "mean_s": statistics.fmean(v),
                   "sd_s": statistics.stdev(v) if len(v) > 1 else 0.0,
                   "time_loss_s": statistics.fmean(per_seed[s]["time_loss_s"] for s in seeds),
                   "depart_delay_s": statistics.fmean(per_seed[s]["depart_delay_s"] for s in seeds),
                   "unfinished": statistics.fmean(per_seed[s]["unfinished"] for s in seeds),
                   "trips": statistics.fmean(per_seed[s]["trips"] for s in seeds)}
            if ctl != "fixed":
                row["decision_ms_mean"] = statistics.fmean(per_seed[s]["decision_ms_mean"] for s in seeds)
                row["decision_ms_p99"] = statistics.fmean(per_seed[s]["decision_ms_p99"] for s in seeds)
                row["decision_ms_max"] = max(per_seed[s]["decision_ms_max"] for s in seeds)
                row["switches"] = statistics.fmean(per_seed[s]["switches"] for s in seeds)
            out.setdefault(version, {})[ctl] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sumo-home-1-9-1", dest="sumo191", default=os.environ.get("SUMO_191_HOME"),
                    help="SUMO 1.9.1's SUMO_HOME (the 'sumo' folder of eclipse-sumo==1.9.1); env SUMO_191_HOME")
    ap.add_argument("--controllers", default=",".join(CONTROLLERS))
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "real_city.json"))
    args = ap.parse_args(argv)
    if not Path(args.config).exists():
        print(f"error: {args.config} not found (set GREENWAVE_SHARED)", file=sys.stderr)
        return 2
    controllers = [c for c in args.controllers.split(",") if c]
    unknown = set(controllers) - set(CONTROLLERS)
    if unknown:
        print(f"error: unknown controllers {sorted(unknown)}; choose from {', '.join(CONTROLLERS)}", file=sys.stderr)
        return 2
    versions = [("installed", None)]
    if args.sumo191:
        versions.insert(0, ("1.9.1", args.sumo191))
    else:
        print("note: SUMO 1.9.1 skipped (no --sumo-home-1-9-1): the published figures come from it", file=sys.stderr)
    seeds = list(range(1, args.seeds + 1))
    keys = [(v, c, s) for v, _ in versions for c in controllers for s in seeds]
    tasks = [(args.config, CLI_NAME[c], s, home, {}) for v, home in versions for c in controllers for s in seeds]
    from tqdm import tqdm

    from simulation.sumo_control import run_config_seeds

    with tqdm(total=len(tasks), desc="SUMO runs", unit="run") as bar:
        runs = run_config_seeds(tasks, args.jobs, progress=lambda: bar.update(1))
    import libsumo

    installed = str(libsumo.getVersion()[1]).replace("SUMO ", "").split("+")[0]
    for (version, controller, seed), r in zip(keys, runs, strict=True):
        r.update(version=installed if version == "installed" else version, controller=controller, seed=seed)
    summary = summarise(runs, seeds)
    _print(summary, seeds)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"config": Path(args.config).name, "seeds": seeds, "published_s": PUBLISHED,
                                          "metric": "mean(timeLoss + departDelay) over all tripinfos incl. unfinished",
                                          "results": summary}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _print(summary: dict, seeds: list[int]) -> None:
    for version, rows in summary.items():
        print(f"\nSUMO {version}: RESCO average delay (s), seeds {seeds[0]}..{seeds[-1]}")
        print(f"{'controller':14s} {'median':>7s} {'mean':>7s} {'sd':>6s} {'timeLoss':>8s} {'depDelay':>8s} "
              f"{'unfin':>6s} {'ms/step':>8s} {'p99 ms':>7s} {'max ms':>7s} {'published':>9s}")
        for ctl, r in rows.items():
            ms = (f"{r['decision_ms_mean']:8.3f} {r['decision_ms_p99']:7.2f} {r['decision_ms_max']:7.2f}"
                  if "decision_ms_mean" in r else f"{'-':>8s} {'-':>7s} {'-':>7s}")
            pub = PUBLISHED.get(ctl)
            print(f"{ctl:14s} {r['median_s']:7.2f} {r['mean_s']:7.2f} {r['sd_s']:6.2f} {r['time_loss_s']:8.2f} "
                  f"{r['depart_delay_s']:8.2f} {r['unfinished']:6.1f} {ms} {pub if pub else '-':>9}")
        if "adaptive" in rows and "max_pressure" in rows:
            a, m = rows["adaptive"]["median_s"], rows["max_pressure"]["median_s"]
            print(f"adaptive vs own max pressure (medians): {100 * (1 - a / m):.1f}% less delay; "
                  f"vs published max pressure 46.82 s: {100 * (1 - a / 46.82):.1f}% less")
        if "max_pressure" in rows:
            mp_median = rows["max_pressure"]["median_s"]
            print(f"own max pressure vs published 46.82 s: {100 * (mp_median / 46.82 - 1):+.1f}%")
        print("per seed:", {c: r["per_seed_s"] for c, r in rows.items()})


if __name__ == "__main__":
    raise SystemExit(main())
