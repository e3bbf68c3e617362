"""Greenwave's stage controllers driving SUMO's own signals through libsumo, in the loop.

SUMO plays the street. Greenwave adds lane-area detectors (standing in for cameras) on the last
``detector_range_m`` of every approach lane of each signal and the first stretch of every exit lane;
every control step the detectors' vehicles become ``StageObservation``s, the controller chooses
stages, and Greenwave's signal heads (``traffic.stages.StageSignal``: the program's own stages,
its yellow and all-red, minimum green) set SUMO's signal states. Without a controller the net's
own programs run untouched (fixed time).

The result is RESCO's metric: the mean of ``timeLoss + departDelay`` over every tripinfo, vehicles
still driving at the end included (``--tripinfo-output.write-unfinished``).

libsumo allows one simulation per process; run seeds in separate processes.
"""

from __future__ import annotations

import importlib
import shutil
import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from xml.sax.saxutils import quoteattr

from traffic.control import StageController, StageObservation
from traffic.errors import ModelError
from traffic.network import JAM_SPACING_M
from traffic.scenario import Scenario
from traffic.stages import StageSet, StageSignal
from traffic.sumo.importer import import_sumocfg


@dataclass(frozen=True, slots=True)
class LaneDetector:
    id: str
    lane: str
    """SUMO lane id (``edge_index``)."""
    start_m: float
    length_m: float


@dataclass(frozen=True)
class DetectorLayout:
    """Detectors per signal: approach detectors with the movements their vehicles count for, exit lanes per link."""

    approach: Mapping[str, tuple[tuple[LaneDetector, tuple[tuple[str, float], ...]], ...]]
    """Signal -> (detector, ((movement, share of the detector's vehicles), ...)) rows."""
    exits: Mapping[str, tuple[LaneDetector, ...]]
    """Exit link id -> its lanes' detectors."""
    jam_spacing_m: float = JAM_SPACING_M

    @cached_property
    def storage_veh(self) -> dict[str, dict[str, float]]:
        """Signal -> movement -> vehicles its share of the approach detectors holds when jammed."""
        out: dict[str, dict[str, float]] = {}
        for iid, rows in self.approach.items():
            per = out.setdefault(iid, {})
            for det, shares in rows:
                for m, share in shares:
                    per[m] = per.get(m, 0.0) + share * det.length_m / self.jam_spacing_m
        return out

    @cached_property
    def exit_storage_veh_per_lane(self) -> dict[str, dict[str, float]]:
        """Signal -> movement -> vehicles per lane the exit link's detectors hold when jammed."""
        per_link = {link: sum(d.length_m for d in dets) / len(dets) / self.jam_spacing_m
                    for link, dets in self.exits.items()}
        return {iid: {m: per_link[self._exit_of[iid][m]] for m in self._exit_of[iid]} for iid in self.approach}

    _exit_of: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def all(self) -> list[LaneDetector]:
        seen: dict[str, LaneDetector] = {}
        for rows in self.approach.values():
            for det, _ in rows:
                seen[det.id] = det
        for dets in self.exits.values():
            for det in dets:
                seen[det.id] = det
        return list(seen.values())


def detector_layout(scenario: Scenario, intersections: Sequence[str], range_m: float = 100.0) -> DetectorLayout:
    """Lane-area detectors covering ``range_m`` upstream of each approach's stop line and downstream of each exit.

    A camera sees a stretch of road, not a SUMO edge: where an approach edge is shorter than the
    range, the coverage continues on the edges feeding it through unsignalised nodes (edge splits,
    merges), their vehicles shared among the approach's movements like its own lanes'.
    """
    if range_m <= 0:
        raise ModelError(f"detector range (={range_m}) must be > 0")
    net = scenario.network
    signal_nodes = {n for inter in scenario.intersections.values() for n in inter.nodes}
    feeders: dict[str, list[str]] = {}
    for m in net.movements.values():
        if m.node not in signal_nodes:
            feeders.setdefault(m.to_link, []).append(m.from_link)
    approach: dict[str, tuple] = {}
    exits: dict[str, tuple[LaneDetector, ...]] = {}
    for iid in intersections:
        inter = scenario.intersections[iid]
        rows: list = []
        for link_id in inter.approaches:
            link = net.links[link_id]
            lane_shares = []
            for lane in link.lanes:
                served = [m for m in lane.movements if m in inter.movements]
                if served:
                    lane_shares.append((lane, tuple((m, 1.0 / len(served)) for m in served)))
            for lane, shares in lane_shares:
                length = min(range_m, lane.length_m)
                rows.append((LaneDetector(f"gw_in_{link_id}_{lane.index}", f"{link_id}_{lane.index}",
                                          lane.length_m - length, length), shares))
            if lane_shares:
                link_shares: dict[str, float] = {}
                for _, shares in lane_shares:
                    for m, share in shares:
                        link_shares[m] = link_shares.get(m, 0.0) + share / len(lane_shares)
                rows += _upstream(net, feeders, link_id, range_m - link.length_m, tuple(link_shares.items()), set())
        approach[iid] = tuple(rows)
        for m in inter.movements.values():
            if m.to_link not in exits:
                exits[m.to_link] = tuple(
                    LaneDetector(f"gw_out_{m.to_link}_{lane.index}", f"{m.to_link}_{lane.index}", 0.0,
                                 min(range_m, lane.length_m))
                    for lane in net.links[m.to_link].lanes)
    exit_of = {iid: {m: mv.to_link for m, mv in scenario.intersections[iid].movements.items()} for iid in intersections}
    return DetectorLayout(approach, exits, _exit_of=exit_of)


def _upstream(net, feeders: Mapping[str, list[str]], link_id: str, left_m: float,
              shares: tuple[tuple[str, float], ...], seen: set[str]) -> list:
    rows: list = []
    if left_m <= 1.0:
        return rows
    for up in feeders.get(link_id, ()):
        if up in seen:
            continue
        seen.add(up)
        link = net.links[up]
        for lane in link.lanes:
            length = min(left_m, lane.length_m)
            rows.append((LaneDetector(f"gw_up_{up}_{lane.index}", f"{up}_{lane.index}", lane.length_m - length, length),
                         tuple((m, s / len(link.lanes)) for m, s in shares)))
        rows += _upstream(net, feeders, up, left_m - link.length_m, shares, seen)
    return rows


def write_detectors(layout: DetectorLayout, path: Path, output: Path) -> None:
    """The layout as a SUMO additional file (lane-area detectors; their own output is not used)."""
    lines = ["<additional>"]
    for d in layout.all():
        lines.append(f"    <laneAreaDetector id={quoteattr(d.id)} lane={quoteattr(d.lane)} pos=\"{d.start_m:.2f}\" "
                     f"length=\"{d.length_m:.2f}\" freq=\"100000\" file={quoteattr(str(output))} "
                     "friendlyPos=\"true\"/>")
    lines.append("</additional>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def observe(ls, layout: DetectorLayout, scenario: Scenario, heads: Mapping[str, StageSignal],
            now_s: float) -> dict[str, StageObservation]:
    """Every signal's observation from the detectors' last step."""
    area = ls.lanearea
    exit_per_lane: dict[str, float] = {}
    for link, dets in layout.exits.items():
        exit_per_lane[link] = sum(area.getLastStepVehicleNumber(d.id) for d in dets) / len(dets)
    out = {}
    for iid, head in heads.items():
        inter = scenario.intersections[iid]
        queue = dict.fromkeys(inter.movements, 0.0)
        moving = dict.fromkeys(inter.movements, 0.0)
        for det, shares in layout.approach[iid]:
            halting = area.getLastStepHaltingNumber(det.id)
            total = area.getLastStepVehicleNumber(det.id)
            for m, share in shares:
                queue[m] += halting * share
                moving[m] += (total - halting) * share
        exits = {m: exit_per_lane[mv.to_link] for m, mv in inter.movements.items()}
        out[iid] = StageObservation(iid, head.target if head.target is not None else head.stage,
                                    head.green_s(now_s), head.can_switch(now_s), queue, moving, exits,
                                    layout.storage_veh[iid], layout.exit_storage_veh_per_lane[iid])
    return out


def resco_metric(tripinfo: Path) -> dict:
    """RESCO's metric from a tripinfo file written with ``--tripinfo-output.write-unfinished``."""
    rows = list(ET.parse(tripinfo).getroot().iter("tripinfo"))
    if not rows:
        raise ModelError(f"no tripinfo in {tripinfo}")
    loss = [float(r.get("timeLoss", 0.0)) for r in rows]
    depart = [float(r.get("departDelay", 0.0)) for r in rows]
    unfinished = sum(1 for r in rows if float(r.get("arrival", -1)) < 0)
    return {"resco_delay_s": statistics.fmean(a + b for a, b in zip(loss, depart, strict=True)),
            "time_loss_s": statistics.fmean(loss), "depart_delay_s": statistics.fmean(depart),
            "trips": len(rows), "unfinished": unfinished}


def import_libsumo(sumo_home: str | None = None):
    """libsumo from ``sumo_home/tools`` when given (another SUMO version), else the installed one."""
    import os
    import sys

    if sumo_home:
        os.environ["SUMO_HOME"] = sumo_home
        tools = str(Path(sumo_home) / "tools")
        if tools not in sys.path:
            sys.path.insert(0, tools)
    try:
        return importlib.import_module("libsumo")
    except ImportError as exc:
        raise ModelError(f"libsumo is not available ({exc}); install the 'sumo' extra or give a SUMO_HOME") from None


def run_sumo(config: Path, scenario: Scenario, seed: int,
             controller_factory: Callable[[Mapping[str, StageSet]], StageController] | None = None,
             stage_sets: Mapping[str, StageSet] | None = None, *, control_step_s: float = 5.0,
             detector_range_m: float = 100.0, sumo_home: str | None = None,
             extra_args: Sequence[str] = (), tripinfo_out: Path | None = None,
             trace: list[tuple[float, str, str]] | None = None) -> dict:
    """One SUMO run of ``config`` with ``seed``: fixed time (no factory) or a stage controller in the loop.

    Returns RESCO's metric and, under control, decision times (ms per control step for all
    signals), switch counts and the number of control steps. ``tripinfo_out`` keeps SUMO's tripinfo file;
    ``trace`` receives every signal state set, as ``(time_s, signal, state)``.
    """
    ls = import_libsumo(sumo_home)
    controlled = controller_factory is not None
    if controlled and not stage_sets:
        raise ModelError("a stage controller needs the stage sets of the signals it controls")
    with tempfile.TemporaryDirectory(prefix="gw_sumo_") as d:
        tripinfo = Path(d) / "tripinfo.xml"
        args = ["sumo", "-c", str(config), "--seed", str(seed), "--time-to-teleport", "-1",
                "--tripinfo-output", str(tripinfo), "--tripinfo-output.write-unfinished",
                "--no-step-log", "--no-warnings", *extra_args]
        layout = None
        if controlled:
            layout = detector_layout(scenario, list(stage_sets), detector_range_m)
            add = Path(d) / "greenwave_detectors.add.xml"
            write_detectors(layout, add, Path(d) / "e2.xml")
            args += ["--additional-files", str(add)]
        ls.start(args)
        try:
            stats = _loop(ls, scenario, controller_factory, stage_sets, layout, control_step_s, trace) if controlled \
                else _run_fixed(ls, scenario.end_s)
        finally:
            ls.close()
        out = resco_metric(tripinfo)
        if tripinfo_out is not None:
            shutil.copyfile(tripinfo, tripinfo_out)
    out.update(stats)
    out["seed"] = seed
    return out


def _run_fixed(ls, end_s: float) -> dict:
    while ls.simulation.getTime() < end_s - 1e-9:
        ls.simulationStep()
    return {}


def _loop(ls, scenario: Scenario, factory, stage_sets: Mapping[str, StageSet], layout: DetectorLayout,
          control_step_s: float, trace: list | None) -> dict:
    controller = factory(stage_sets)
    now = ls.simulation.getTime()
    heads = {iid: StageSignal(ss, 0, now) for iid, ss in stage_sets.items()}

    def show(iid: str) -> None:
        state = heads[iid].state()
        ls.trafficlight.setRedYellowGreenState(iid, state)
        if trace is not None:
            trace.append((now, iid, state))

    for iid in heads:
        _check_links(ls.trafficlight, iid, stage_sets[iid])
        show(iid)
    end = scenario.end_s
    next_decision = now
    decision_ms: list[float] = []
    while now < end - 1e-9:
        if now >= next_decision - 1e-9:
            obs = observe(ls, layout, scenario, heads, now)
            t0 = time.perf_counter()
            choice = controller.choose(now, obs)
            decision_ms.append((time.perf_counter() - t0) * 1e3)
            for iid, stage in choice.items():
                if heads[iid].request(int(stage), now):
                    show(iid)
            next_decision += control_step_s
        ls.simulationStep()
        now = ls.simulation.getTime()
        for iid, head in heads.items():
            if head.advance(now):
                show(iid)
    return {"control_steps": len(decision_ms),
            "decision_ms_mean": statistics.fmean(decision_ms) if decision_ms else 0.0,
            "decision_ms_p99": _quantile(decision_ms, 0.99),
            "decision_ms_max": max(decision_ms, default=0.0),
            "switches": sum(h.switches for h in heads.values())}


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _check_links(tl, iid: str, stages: StageSet) -> None:
    n = len(tl.getRedYellowGreenState(iid))
    if n != len(stages.intersection.signal_links):
        raise ModelError(f"signal {iid!r}: SUMO has {n} links, the scenario {len(stages.intersection.signal_links)}")


STAGE_CONTROLLERS = ("fixed", "max-pressure", "adaptive")


def controller_factory(name: str) -> Callable[[Mapping[str, StageSet]], StageController] | None:
    """The stage controller called ``name`` (``fixed``: none, the net's own programs run)."""
    from signal_control.adaptive_stage import AdaptiveStageController
    from signal_control.max_pressure import MaxPressureController

    factories = {"fixed": None, "max-pressure": MaxPressureController, "adaptive": AdaptiveStageController}
    if name not in factories:
        raise ModelError(f"unknown stage controller {name!r}; choose from {', '.join(STAGE_CONTROLLERS)}")
    return factories[name]


def run_config(config: str | Path, controller: str, seed: int, sumo_home: str | None = None, **kwargs) -> dict:
    """``run_sumo`` on a SUMO config with a controller named as in ``STAGE_CONTROLLERS`` (picklable entry point)."""
    from traffic.stages import stage_sets

    factory = controller_factory(controller)
    scenario = import_sumocfg(config)
    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections)) if factory else None
    t0 = time.perf_counter()
    out = run_sumo(Path(config), scenario, seed, factory, sets, sumo_home=sumo_home, **kwargs)
    out.update(controller=controller, wall_s=time.perf_counter() - t0)
    return out


def _run_config_task(task: tuple[str, str, int, str | None, dict]) -> dict:
    config, controller, seed, sumo_home, kwargs = task
    return run_config(config, controller, seed, sumo_home, **kwargs)


def run_config_seeds(tasks: Sequence[tuple[str, str, int, str | None, dict]], jobs: int = 1,
                     progress: Callable[[], None] | None = None) -> list[dict]:
    """``run_config`` for each ``(config, controller, seed, sumo_home, kwargs)``, each in a fresh process
    (libsumo holds one simulation per process, and each SUMO version its own library); input order kept."""
    import multiprocessing as mp

    if jobs < 1:
        raise ModelError(f"jobs must be >= 1 (got {jobs})")
    out: list[dict] = []
    with mp.get_context("spawn").Pool(min(jobs, max(1, len(tasks))), maxtasksperchild=1) as pool:
        for r in pool.imap(_run_config_task, tasks):
            out.append(r)
            if progress is not None:
                progress()
    return out
