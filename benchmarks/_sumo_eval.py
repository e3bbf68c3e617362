"""Run plans in SUMO micro on the reference scenarios, the way ../shared/reference/sumo_tools measured
SUMO's own tools: seeds 1..10, ``--step-length 1 --no-step-log --duration-log.statistics``, tripinfo
``timeLoss`` of all arrived vehicles, at most two SUMO processes at once (2-core machine)."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan
from traffic.sumo import write_tls_additional

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
REF_SCN = SHARED / "reference" / "sumo" / "scenarios"
TOOLS = SHARED / "reference" / "sumo_tools"
SEEDS = tuple(range(1, 11))
GROUPS = {"EB_through": lambda f: f == "EB_through", "WB_through": lambda f: f == "WB_through",
          "side_origin": lambda f: f[:1] in "NS"}


def sumo_binary() -> str | None:
    beside = Path(sys.executable).parent / "sumo"
    return str(beside) if beside.exists() else shutil.which("sumo")


def _run(net: Path, routes: Path, adds: Sequence[Path], seed: int) -> dict:
    tdir = Path(tempfile.mkdtemp(prefix="gw_sumo_"))
    try:
        cmd = [sumo_binary() or "sumo", "-n", str(net), "-r", str(routes)]
        if adds:
            cmd += ["-a", ",".join(str(a) for a in adds)]
        cmd += ["--step-length", "1", "--seed", str(seed), "--no-step-log", "--duration-log.statistics",
                "--tripinfo-output", str(tdir / "tripinfo.xml")]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        loss: dict[str, list[float]] = {"all": []}
        for t in ET.parse(tdir / "tripinfo.xml").getroot().iter("tripinfo"):
            flow = t.get("id", "").rsplit(".", 1)[0]
            tl = float(t.get("timeLoss", "nan"))
            loss["all"].append(tl)
            for g, pred in GROUPS.items():
                if pred(flow):
                    loss.setdefault(g, []).append(tl)
        return {k: statistics.fmean(v) for k, v in loss.items()}
    finally:
        shutil.rmtree(tdir, ignore_errors=True)


def run_sumo(scenario_name: str, adds: Sequence[Path], seeds: Sequence[int] = SEEDS) -> dict[str, dict[str, float]]:
    """Mean and sd over seeds of the per-seed mean time loss (all vehicles and each group)."""
    net_name = "isolated" if scenario_name.startswith("isolated") else scenario_name  # one net, several demands
    net, routes = REF_SCN / f"{net_name}.net.xml", REF_SCN / f"{scenario_name}.rou.xml"
    with cf.ThreadPoolExecutor(2) as ex:
        runs = list(ex.map(lambda s: _run(net, routes, adds, s), seeds))
    out = {}
    for key in runs[0]:
        vals = [r[key] for r in runs if key in r]
        out[key] = {"mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


def run_plans(scenario: Scenario, plans: Mapping[str, SignalPlan], scenario_name: str,
              seeds: Sequence[int] = SEEDS) -> dict[str, dict[str, float]]:
    """Export ``plans`` (validated by the caller) as program ``greenwave`` and run them in SUMO."""
    with tempfile.TemporaryDirectory(prefix="gw_tls_") as d:
        path = Path(d) / "plans.add.xml"
        write_tls_additional(plans.values(), dict(scenario.intersections), path, program_id="greenwave")
        return run_sumo(scenario_name, [path], seeds)
