"""SUMO's own signal tools as the peer of the closed-loop benchmark: ``tlsCycleAdaptation.py -u``
(Webster cycle, common to all signals, and splits) then ``tlsCoordinator.py`` (green-wave offsets),
run on a scenario's average demand, as ../shared/reference/sumo_tools ran them on the arterial
(same options). The tools read only explicit vehicles, so the average demand of each flow is
written out as evenly spaced vehicles over one hour (the hour the tools count).

Also writes a scenario's time-sliced demand as a SUMO route file (flows per slice, Poisson
arrivals as SUMO's ``period="exp(r)"``), for SUMO micro cross-checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan
from traffic.sumo.tls import plan_from_sumo, read_tls_programs

ADAPT_OPTS = ["-b", "0", "-y", "3", "-a", "4", "-l", "4", "-H", "2.09"]
"""As in ../shared/reference/sumo_tools/tls_tools.py: 3-s yellow, 4 s all-red per cycle, 4 s lost
per phase, SUMO micro's measured saturation headway."""


def sumo_tools_dir() -> Path:
    home = os.environ.get("SUMO_HOME")
    if not home:
        import sumo  # the eclipse-sumo package

        home = os.path.dirname(sumo.__file__)
    return Path(home) / "tools"


def _vtypes(ref_routes: Path) -> list[str]:
    return [ET.tostring(v, encoding="unicode").strip() for v in ET.parse(ref_routes).getroot().iter("vType")]


def write_average_vehicles(scenario: Scenario, ref_routes: Path, path: Path) -> int:
    """Each flow at its mean rate over the scenario, as evenly spaced vehicles in [0, 3600)."""
    span_h = (scenario.end_s - scenario.begin_s) / 3600.0
    vehicles = []
    for f in scenario.demand.flows:
        n = sum(s.flow_veh_h * (s.end_s - s.begin_s) / 3600.0 for s in f.slices) / span_h  # per hour
        edges = " ".join(scenario.route_links(f))
        count = round(n)
        for k in range(count):
            vehicles.append(((k + 0.5) * 3600.0 / count, f"{f.id}.{k}", f.vehicle_type, edges))
    vehicles.sort()
    lines = ["<routes>", *(f"    {v}" for v in _vtypes(ref_routes))]
    for dep, vid, vtype, edges in vehicles:
        lines.append(f'    <vehicle id="{vid}" type="{vtype}" depart="{dep:.2f}" departLane="best" '
                     f'departSpeed="max">\n        <route edges="{edges}"/>\n    </vehicle>')
    lines.append("</routes>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(vehicles)


def write_sliced_flows(scenario: Scenario, ref_routes: Path, path: Path) -> None:
    """The scenario's demand as SUMO flows, one per flow and slice, Poisson arrivals."""
    lines = ["<routes>", *(f"    {v}" for v in _vtypes(ref_routes))]
    rows = []
    for f in scenario.demand.flows:
        edges = " ".join(scenario.route_links(f))
        for k, s in enumerate(f.slices):
            if s.flow_veh_h > 0:
                rate = s.flow_veh_h / 3600.0
                rows.append((s.begin_s, f'    <flow id="{f.id}.s{k}" type={quoteattr(f.vehicle_type)} '
                                        f'begin="{s.begin_s:g}" end="{s.end_s:g}" period="exp({rate:.6f})" '
                                        f'departLane="best" departSpeed="max">\n'
                                        f'        <route edges="{edges}"/>\n    </flow>'))
    rows.sort(key=lambda r: r[0])
    lines += [r[1] for r in rows]
    lines.append("</routes>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run(cmd: list[str], log: Path) -> None:
    env = dict(os.environ, SUMO_HOME=str(sumo_tools_dir().parent))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    log.write_text("$ " + " ".join(cmd) + "\n" + p.stdout + p.stderr, encoding="utf-8")
    if p.returncode:
        raise RuntimeError(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")


def sumo_chain_plans(scenario: Scenario, net: Path, ref_routes: Path, workdir: Path) -> dict[str, SignalPlan]:
    """Plans of ``tlsCycleAdaptation.py -u`` + ``tlsCoordinator.py`` on the scenario's average demand."""
    tools = sumo_tools_dir()
    workdir.mkdir(parents=True, exist_ok=True)
    veh = workdir / "average_vehicles.rou.xml"
    write_average_vehicles(scenario, ref_routes, veh)
    adapted, coord = workdir / "adapt_u.add.xml", workdir / "adapt_u_coord.add.xml"
    _run([sys.executable, str(tools / "tlsCycleAdaptation.py"), "-n", str(net), "-r", str(veh), "-o", str(adapted),
          *ADAPT_OPTS, "-u", "-p", "adapt_u"], workdir / "adapt_u.log")
    _run([sys.executable, str(tools / "tlsCoordinator.py"), "-n", str(net), "-r", str(veh), "-a", str(adapted),
          "-o", str(coord)], workdir / "coord.log")
    offsets = {tl.get("id"): float(tl.get("offset", "0")) for tl in ET.parse(coord).getroot().iter("tlLogic")}
    plans = {}
    for prog in read_tls_programs(adapted):
        plan = plan_from_sumo(prog, scenario.intersections[prog.tls_id])
        # the coordinator's offset applies to the program as written (phase 0 of the file)
        shift = (plan.offset_s - prog.offset_s) % plan.cycle_s
        plans[prog.tls_id] = plan.with_offset((offsets.get(prog.tls_id, prog.offset_s) + shift) % plan.cycle_s)
    return plans
