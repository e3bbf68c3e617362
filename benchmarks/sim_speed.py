"""Simulator speed side by side with SUMO 1.28 (meso and micro) on the same scenarios, one core each.

Cases: the reference 5x5 grid (3,000 veh/h) and a 20x20 grid of the same design at 38,000 veh/h
(~10,000 vehicles at once), built with the reference's own generator (``make_scenarios.py``,
which needs SUMO's ``netconvert``) and imported with ``greenwave scenario import``. Every run
simulates 1 h (SUMO ``--end 3600``). Wall time is the median of ``--reps`` runs, each in a fresh
process; Greenwave's includes loading the scenario JSON and building the model, not the Python
interpreter's start and imports (reported apart as ``import_s``). Also measures 10 seeds in series against ``--jobs 2``.

Start-up, whole processes as a user runs them (``startup`` in the JSON): ``greenwave --help`` and
``greenwave simulate grid --seeds 1 --json`` against ``sumo --mesosim`` on the reference 5x5 grid, wall and
CPU time (user + system of the child process), median of ``--reps`` runs, with the ratios. ``--baseline-tree DIR``
times the same Greenwave commands from another checkout too (e.g. an export of an older commit), side by side.

    python benchmarks/sim_speed.py [--reps 3] [--with-micro-20x20] [--out benchmarks/results/sim_speed.json]
    python benchmarks/sim_speed.py --startup-only --reps 10 [--baseline-tree /tmp/old-checkout]

``--baseline-tree`` also times the other checkout on every case (same processes, same turns), so that a change's
speed-up and its ratios to SUMO come from one run. Child processes keep their bytecode (``user_env``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
REF_SUMO = SHARED / "reference" / "sumo"
CACHE = REPO / "benchmarks" / ".cache"

GREENWAVE_RUN = """
import json, resource, sys, time
t_import = time.perf_counter()
from traffic.scenario_io import load_scenario
from simulation import Simulation
t0 = time.perf_counter()
sc = load_scenario(sys.argv[1])
t_load = time.perf_counter()
sim = Simulation(sc, int(sys.argv[2]), duration_s=float(sys.argv[3])).run()
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "import_s": t0 - t_import, "load_s": t_load - t0,
                  "run_s": time.perf_counter() - t_load, "inserted": sim.inserted, "arrived": sim.finished,
                  "in_network_at_end": sim.in_network(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def sumo_bin(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def run_greenwave(scenario: Path | str, seed: int = 1, duration_s: float = 3600.0, tree: Path | None = None) -> dict:
    """One run in a fresh process, of this checkout or of ``tree`` (another checkout, whose packages come first)."""
    out = subprocess.run([sys.executable, "-c", GREENWAVE_RUN, str(scenario), str(seed), str(duration_s)],
                         capture_output=True, text=True, check=True, cwd=tree or REPO, env=user_env(tree))
    return json.loads(out.stdout)


SUMO_OUTPUTS = {
    # what Greenwave produces too: per-trip results and overall statistics
    "trips": ["--duration-log.statistics", "--tripinfo-output", "{tmp}/tripinfo.xml",
              "--statistic-output", "{tmp}/stats.xml"],
    # the reference's scale_bench.py command (adds a per-step network summary)
    "reference": ["--duration-log.statistics", "--summary-output", "{tmp}/summary.xml",
                  "--statistic-output", "{tmp}/stats.xml"],
    # no output at all: SUMO's bare speed
    "bare": [],
}


def run_sumo(net: Path, routes: Path, meso: bool, outputs: str = "trips", seed: int = 1) -> dict:
    with tempfile.TemporaryDirectory(prefix="gw_speed_") as tmp:
        cmd = [sumo_bin("sumo") or "sumo", "-n", str(net), "-r", str(routes), "--end", "3600", "--step-length", "1",
               "--seed", str(seed), "--no-step-log", "--no-warnings"]
        cmd += [a.format(tmp=tmp) for a in SUMO_OUTPUTS[outputs]]
        if meso:
            cmd += ["--mesosim", "--meso-junction-control"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return {"wall_s": time.perf_counter() - t0}


def user_env(cwd: Path | None = None) -> dict[str, str]:
    """A child's environment as a user's: Python writes and reuses its bytecode (an environment that sets
    PYTHONDONTWRITEBYTECODE would otherwise compile every module of the project from source on every run,
    ~0.1 s that no installed copy pays), kept under ``benchmarks/.cache/pycache/<tree>`` rather than in the
    source tree."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache" / ("repo" if cwd is None else cwd.resolve().name))
    return env


def _timed_process(cmd: list[str], cwd: Path | None = None) -> dict:
    """Wall and CPU time (user + system) of one whole child process (environment ``user_env``); its output is
    discarded."""
    env = user_env(cwd)
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall_s": wall, "cpu_s": cpu}


def _median_processes(cmds: dict[str, tuple[list[str], Path | None]], reps: int) -> dict[str, dict]:
    """Median wall and CPU time of each command, run in turn (round robin, so that a change in the machine's load
    falls on all of them alike) after one warm-up run each (bytecode and file caches, as for a user's second run)."""
    runs: dict[str, list[dict]] = {key: [] for key in cmds}
    for rep in range(reps + 1):
        for key, (cmd, cwd) in cmds.items():
            r = _timed_process(cmd, cwd)
            if rep:
                runs[key].append(r)
    return {key: {"wall_s": statistics.median(r["wall_s"] for r in rs),
                  "cpu_s": statistics.median(r["cpu_s"] for r in rs), "walls_s": [round(r["wall_s"], 4) for r in rs]}
            for key, rs in runs.items()}


def greenwave_cmd(tree: Path | None = None) -> tuple[list[str], Path | None]:
    """The ``greenwave`` console script beside this Python, or ``python -m greenwave`` run inside ``tree``
    (another checkout, whose packages then come first on the path; ``traffic.cli.main`` in checkouts older than
    the ``greenwave`` package)."""
    script = Path(sys.executable).parent / "greenwave"
    if tree is None and script.exists():
        return [str(script)], None
    root = tree or REPO
    entry = "greenwave" if (root / "greenwave" / "__main__.py").exists() else "traffic.cli.main"  # older checkouts
    return [sys.executable, "-m", entry], root


def startup(reps: int, baseline_tree: Path | None = None) -> dict:
    """Whole processes: ``greenwave --help``, ``greenwave simulate grid --seeds 1 --json`` and SUMO meso on the
    reference 5x5 grid (1 h, seed 1), with Greenwave / SUMO ratios of wall and CPU time."""
    trees = {"greenwave": None} | ({"baseline": baseline_tree} if baseline_tree else {})
    cmds: dict[str, tuple[list[str], Path | None]] = {}
    for label, tree in trees.items():
        cmd, cwd = greenwave_cmd(tree)
        cmds[f"{label}/help"] = ([*cmd, "--help"], cwd)
        cmds[f"{label}/simulate_grid"] = ([*cmd, "simulate", "grid", "--seeds", "1", "--json"], cwd)
    net, rou = REF_SUMO / "scenarios" / "grid.net.xml", REF_SUMO / "scenarios" / "grid.rou.xml"
    have_sumo = sumo_bin("sumo") is not None and net.exists()
    with tempfile.TemporaryDirectory(prefix="gw_startup_") as tmp:
        if have_sumo:
            for outputs in ("bare", "trips"):
                cmds[f"sumo_meso_{outputs}"] = (
                    [sumo_bin("sumo") or "sumo", "-n", str(net), "-r", str(rou), "--end", "3600", "--step-length", "1",
                     "--seed", "1", "--no-step-log", "--no-warnings", "--mesosim", "--meso-junction-control",
                     *(a.format(tmp=tmp) for a in SUMO_OUTPUTS[outputs])], None)
        timed = _median_processes(cmds, reps)
    out: dict = {}
    for key, r in timed.items():
        label, _, what = key.partition("/")
        if what:
            out.setdefault(label, {})[what] = r
        else:
            out[label] = r
    if have_sumo:
        for label in trees:
            sim = out[label]["simulate_grid"]
            out[label]["ratio_to_sumo_meso"] = {
                f"{outputs}_{what}": sim[what] / out[f"sumo_meso_{outputs}"][what]
                for outputs in ("bare", "trips") for what in ("wall_s", "cpu_s")}
    return out


def print_startup(res: dict) -> None:
    for label in ("baseline", "greenwave"):
        if label not in res:
            continue
        g = res[label]
        print(f"start-up ({label}): greenwave --help {g['help']['wall_s']:.3f} s wall, {g['help']['cpu_s']:.3f} s CPU; "
              f"simulate grid --seeds 1 --json {g['simulate_grid']['wall_s']:.3f} s wall, "
              f"{g['simulate_grid']['cpu_s']:.3f} s CPU")
        for key, ratio in g.get("ratio_to_sumo_meso", {}).items():
            print(f"    simulate grid / SUMO meso ({key.replace('_', ' ', 1)}) = {ratio:.2f}")
    for outputs in ("bare", "trips"):
        r = res.get(f"sumo_meso_{outputs}")
        if r:
            print(f"    sumo --mesosim grid ({outputs}) {r['wall_s']:.3f} s wall, {r['cpu_s']:.3f} s CPU")


def median_of(fn, reps: int) -> dict:
    runs = [fn() for _ in range(reps)]
    best = dict(runs[0])
    for key in ("wall_s", "import_s", "load_s", "run_s", "peak_rss_mb"):  # each figure its own median
        if key in best:
            best[key] = statistics.median(r[key] for r in runs)
    best["walls_s"] = [r["wall_s"] for r in runs]
    return best


def grid20() -> tuple[Path, Path, Path]:
    """Build (once) the 20x20 grid with the reference generator and import it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tag = "grid20_d38000"
    net, rou, js = CACHE / f"{tag}.net.xml", CACHE / f"{tag}.rou.xml", CACHE / f"{tag}.json"
    if not net.exists():
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        subprocess.run([sys.executable, str(REF_SUMO / "make_scenarios.py"), "--out", str(CACHE), "--grid-only",
                        "--grid-n", "20", "--grid-demand", "38000", "--tag", tag], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    if not js.exists():
        subprocess.run([sys.executable, "-m", "greenwave", "scenario", "import", str(net), "--routes", str(rou),
                        "--name", tag, "--route-group", "all=*", "-o", str(js)], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
    return net, rou, js


def parallel_seeds() -> dict:
    from simulation import simulate_seeds
    from traffic.scenario_io import load_scenario

    sc = load_scenario("grid")
    out = {}
    for jobs in (1, 2):
        t0 = time.perf_counter()
        r = simulate_seeds(sc, range(1, 11), jobs=jobs)
        out[f"jobs{jobs}"] = {"wall_s": time.perf_counter() - t0, "runs": r["runs"]}
    same = json.dumps(out["jobs1"]["runs"]) == json.dumps(out["jobs2"]["runs"])  # NaN-safe comparison
    return {"serial_s": out["jobs1"]["wall_s"], "jobs2_s": out["jobs2"]["wall_s"],
            "speedup": out["jobs1"]["wall_s"] / out["jobs2"]["wall_s"], "identical_results": same}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--with-micro-20x20", action="store_true", help="also time SUMO micro on 20x20 (about 6 min)")
    ap.add_argument("--cases", default="grid5_d3000,grid20_d38000", help="comma-separated cases to time")
    ap.add_argument("--no-parallel", action="store_true", help="skip the 10-seed --jobs comparison")
    ap.add_argument("--startup-only", action="store_true", help="time only the whole-process start-up comparison")
    ap.add_argument("--baseline-tree", type=Path, default=None,
                    help="another checkout whose greenwave start-up is timed beside this one")
    ap.add_argument("--out", default=None,
                    help="JSON results (default benchmarks/results/sim_speed.json; with --startup-only, "
                         "sim_startup.json)")
    args = ap.parse_args()
    results = REPO / "benchmarks" / "results"
    if args.startup_only:
        res = startup(args.reps, args.baseline_tree)
        print_startup(res)
        out = Path(args.out or results / "sim_startup.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"reps": args.reps, "startup": res}, indent=1) + "\n")
        print(f"wrote {out}")
        return 0
    have_sumo = sumo_bin("sumo") is not None and REF_SUMO.is_dir()
    if not have_sumo:
        print("SUMO or the reference scenarios are missing: timing Greenwave alone")
    result: dict = {"reps": args.reps, "cases": {}}
    cases: dict[str, tuple[Path | str, Path, Path]] = {
        "grid5_d3000": ("grid", REF_SUMO / "scenarios" / "grid.net.xml", REF_SUMO / "scenarios" / "grid.rou.xml")}
    if have_sumo and "grid20_d38000" in args.cases.split(","):
        net, rou, js = grid20()
        cases["grid20_d38000"] = (js, net, rou)
    cases = {k: v for k, v in cases.items() if k in args.cases.split(",")}
    for name, (scenario, net, rou) in cases.items():
        if args.baseline_tree:  # in turns, so that a change in the machine's load falls on both alike
            pairs = [(run_greenwave(scenario), run_greenwave(scenario, tree=args.baseline_tree))
                     for _ in range(args.reps)]
            row = {"greenwave": median_of(iter([a for a, _ in pairs]).__next__, args.reps),
                   "greenwave_baseline": median_of(iter([b for _, b in pairs]).__next__, args.reps)}
        else:
            row = {"greenwave": median_of(lambda s=scenario: run_greenwave(s), args.reps)}
        if have_sumo:
            for outputs in SUMO_OUTPUTS:
                row[f"sumo_meso_{outputs}"] = median_of(
                    lambda o=outputs, n=net, r=rou: run_sumo(n, r, meso=True, outputs=o), args.reps)
            if name == "grid5_d3000" or args.with_micro_20x20:
                reps = args.reps if name == "grid5_d3000" else 1
                row["sumo_micro_trips"] = median_of(lambda n=net, r=rou: run_sumo(n, r, meso=False), reps)
        result["cases"][name] = row
        g = row["greenwave"]
        print(f"{name}: Greenwave {g['wall_s']:.2f} s (imports {g['import_s']:.2f} s apart; "
              f"peak {g['peak_rss_mb']:.0f} MB, "
              f"{g['in_network_at_end']:,} vehicles in the network at 3600 s)")
        b = row.get("greenwave_baseline")
        if b:
            print(f"    baseline tree          {b['wall_s']:7.2f} s   "
                  f"Greenwave / baseline = {g['wall_s'] / b['wall_s']:.2f} "
                  f"(load {g['load_s']:.2f} / {b['load_s']:.2f} s, build + run {g['run_s']:.2f} / {b['run_s']:.2f} s)")
        for mode, r in row.items():
            if mode.startswith("sumo"):
                ratio = f"Greenwave / SUMO = {g['wall_s'] / r['wall_s']:.2f}"
                if b:
                    ratio += f" (baseline {b['wall_s'] / r['wall_s']:.2f})"
                print(f"    {mode:22s} {r['wall_s']:7.2f} s   {ratio}")
        sys.stdout.flush()
    result["startup"] = startup(args.reps, args.baseline_tree)
    print_startup(result["startup"])
    if not args.no_parallel:
        par = parallel_seeds()
        result["parallel_seeds_grid5"] = par
        print(f"10 seeds of the 5x5 grid: serial {par['serial_s']:.2f} s, --jobs 2 {par['jobs2_s']:.2f} s "
              f"(speed-up {par['speedup']:.2f}x), identical results: {par['identical_results']}")
    out = Path(args.out or results / "sim_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
