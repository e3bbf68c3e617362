"""SUMO micro cross-check of the closed-loop benchmark's fixed plans on the time-varying demand:
the scenario's flows written as SUMO flows per slice (Poisson), each plan set exported as program
``greenwave``, seeds run as in ``benchmarks/_sumo_eval.py``."""

from __future__ import annotations

import concurrent.futures as cf
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks._sumo_eval import REF_SCN, _run
from benchmarks._sumo_tools_chain import write_sliced_flows
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan
from traffic.sumo import write_tls_additional


def run_fixed_in_sumo(scenario: Scenario, plan_sets: Mapping[str, Mapping[str, SignalPlan] | None],
                      seeds: Sequence[int]) -> dict[str, dict[str, float]]:
    """Mean and sd over seeds of the all-vehicle mean time loss of each plan set (None: the net's own)."""
    net = REF_SCN / "arterial.net.xml"
    out = {}
    with tempfile.TemporaryDirectory(prefix="gw_cl_sumo_") as d:
        routes = Path(d) / "timevarying.rou.xml"
        write_sliced_flows(scenario, REF_SCN / "arterial.rou.xml", routes)
        for name, plans in plan_sets.items():
            adds: list[Path] = []
            if plans:
                adds = [Path(d) / f"{name}.add.xml"]
                write_tls_additional(plans.values(), dict(scenario.intersections), adds[0], program_id="greenwave")
            with cf.ThreadPoolExecutor(2) as ex:
                runs = list(ex.map(lambda s, a=adds: _run(net, routes, a, s)["all"], seeds))
            out[name] = {"mean": statistics.fmean(runs), "sd": statistics.stdev(runs) if len(runs) > 1 else 0.0,
                         "per_seed": runs}
    return out
