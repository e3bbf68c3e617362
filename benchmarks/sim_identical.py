"""Same seed, same results: ``greenwave simulate`` output of this checkout against a saved reference or another tree.

Runs ``greenwave simulate SCENARIO --seeds 2 --json`` on every built-in scenario (plus a few variants that take
other paths through the simulator: stage control, coordinated-actuated control, the adaptive controller, dynamic
routing) and compares the JSON with ``wall_s`` removed. A speed change must leave every one identical.

    python benchmarks/sim_identical.py --save REF.json            # record this checkout's results
    python benchmarks/sim_identical.py --against REF.json         # compare with them (exit 1 on any difference)
    python benchmarks/sim_identical.py --tree OLD                 # compare with another checkout, run side by side
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "data" / "scenarios"

VARIANTS: dict[str, list[str]] = {
    "grid/max-pressure": ["grid", "--controller", "max-pressure", "--duration-s", "1800"],
    "arterial/actuated": ["arterial", "--actuated", "--duration-s", "1800"],
    "arterial/adaptive": ["arterial", "--controller", "adaptive", "--duration-s", "1800"],
    "grid/dynamic-routing": ["grid", "--dynamic-routing", "--duration-s", "1800"],
}


def commands() -> dict[str, list[str]]:
    cmds = {p.stem: [p.stem] for p in sorted(SCENARIOS.glob("*.json"))}
    cmds.update(VARIANTS)
    return {k: [*v, "--seeds", "2", "--json"] for k, v in cmds.items()}


def run_tree(tree: Path, args: list[str]) -> dict | str:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-m", "greenwave", "simulate", *args], capture_output=True, text=True,
                         cwd=tree, env=env)
    if out.returncode != 0:
        return f"exit {out.returncode}: {out.stderr.strip().splitlines()[-1:] or ''}"
    res = json.loads(out.stdout)
    res.pop("wall_s", None)
    return res


def run_all(tree: Path, only: list[str] | None = None) -> dict[str, dict | str]:
    return {name: run_tree(tree, args) for name, args in commands().items() if not only or name in only}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path, help="write this checkout's results here")
    ap.add_argument("--against", type=Path, help="compare with results saved by --save")
    ap.add_argument("--tree", type=Path, help="compare with another checkout, run now")
    ap.add_argument("--only", default="", help="comma-separated names to run (default: all)")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s] or None
    mine = run_all(REPO, only)
    if args.save:
        args.save.write_text(json.dumps(mine, sort_keys=True) + "\n")
        print(f"wrote {args.save} ({len(mine)} runs)")
    if args.against is None and args.tree is None:
        return 0
    ref = json.loads(args.against.read_text()) if args.against else run_all(args.tree.resolve(), only)
    bad = 0
    for name, res in mine.items():
        same = json.dumps(res, sort_keys=True) == json.dumps(ref.get(name), sort_keys=True)  # NaN-safe
        bad += not same
        print(f"{name:28s} {'identical' if same else 'DIFFERENT'}")
    print(f"{len(mine) - bad}/{len(mine)} identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
