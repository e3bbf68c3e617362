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
from pathlib import Path
from xml.sax.saxutils import quoteattr

from simulation.detector_layout import DetectorLayout, LaneDetector, advance_layout, detector_layout, observations
from traffic.control import StageController, StageObservation
from traffic.errors import ModelError, PlanValidationError
from traffic.plan_validation import DEFAULT_RULES, ValidationRules, validate_plan
from traffic.scenario import Scenario
from traffic.stages import StageSet, StageSignal, stage_set_issues
from traffic.sumo.importer import import_sumocfg


def write_detectors(layout: DetectorLayout, path: Path, output: Path, advance: DetectorLayout | None = None) -> None:
    """The layout (and an ``advance`` one) as a SUMO additional file (lane-area detectors; their own
    output is not used)."""
    lines = ["<additional>"]
    for d in layout.all() + (advance.all() if advance is not None else []):
        lines.append(f"    <laneAreaDetector id={quoteattr(d.id)} lane={quoteattr(d.lane)} pos=\"{d.start_m:.2f}\" "
                     f"length=\"{d.length_m:.2f}\" freq=\"100000\" file={quoteattr(str(output))} "
                     "friendlyPos=\"true\"/>")
    lines.append("</additional>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def install_detectors(scenario: Scenario, stage_sets: Mapping[str, StageSet], controller: object, range_m: float,
                      folder: Path) -> tuple[tuple[DetectorLayout, DetectorLayout | None], list[str]]:
    """Greenwave's detectors for ``controller`` (``range_m`` on the approaches, and the advance ones it
    asks for) written to a SUMO additional file in ``folder``: the two layouts, and SUMO's arguments
    that load the file."""
    layout = detector_layout(scenario, list(stage_sets), range_m)
    advance = advance_layout(scenario, list(stage_sets), controller)
    add = folder / "greenwave_detectors.add.xml"
    write_detectors(layout, add, folder / "e2.xml", advance)
    return (layout, advance), ["--additional-files", str(add)]


def observe(ls, layout: DetectorLayout, scenario: Scenario, heads: Mapping[str, StageSignal],
            now_s: float, advance: DetectorLayout | None = None) -> dict[str, StageObservation]:
    """Every signal's observation from SUMO's lane-area detectors at the last step (``advance``: the
    layout of the controller's advance detectors, written to SUMO as well)."""
    area = ls.lanearea

    def read(det: LaneDetector) -> tuple[float, float]:
        return area.getLastStepHaltingNumber(det.id), area.getLastStepVehicleNumber(det.id)

    return observations(layout, scenario, heads, now_s, read, advance)


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

    Nothing starts unless every program SUMO will run is safe: the scenario's active plans (the net's
    own programs) of the signals not under control, and every stage set (``PlanValidationError``).
    """
    controlled = controller_factory is not None
    if controlled and not stage_sets:
        raise ModelError("a stage controller needs the stage sets of the signals it controls")
    check_sumo_signals(scenario, stage_sets if controlled else None)
    ls = import_libsumo(sumo_home)
    with tempfile.TemporaryDirectory(prefix="gw_sumo_") as d:
        tripinfo = Path(d) / "tripinfo.xml"
        args = ["sumo", "-c", str(config), "--seed", str(seed), "--time-to-teleport", "-1",
                "--tripinfo-output", str(tripinfo), "--tripinfo-output.write-unfinished",
                "--no-step-log", "--no-warnings", *extra_args]
        control = None
        if controller_factory is not None and stage_sets:  # a controller without stage sets is refused above
            controller = controller_factory(stage_sets)
            layouts, more = install_detectors(scenario, stage_sets, controller, detector_range_m, Path(d))
            args += more
            control = (controller, stage_sets, layouts)
        ls.start(args)
        try:
            stats = _loop(ls, scenario, *control, control_step_s, trace) if control \
                else _run_fixed(ls, scenario.end_s)
        finally:
            ls.close()
        out = resco_metric(tripinfo)
        if tripinfo_out is not None:
            shutil.copyfile(tripinfo, tripinfo_out)
    out.update(stats)
    out["seed"] = seed
    return out


def check_sumo_signals(scenario: Scenario, stage_sets: Mapping[str, StageSet] | None = None,
                       rules: ValidationRules = DEFAULT_RULES) -> None:
    """Raise ``PlanValidationError`` with every issue of the programs a SUMO run would show: the active
    plan of each signal not in ``stage_sets`` and every stage set."""
    sets = dict(stage_sets or {})
    issues: list[str] = []
    for iid, inter in scenario.intersections.items():
        if iid not in sets:
            issues += validate_plan(scenario.active_plan(iid), inter, rules)
    for stages in sets.values():
        issues += stage_set_issues(stages, rules)
    if issues:
        raise PlanValidationError(issues)


def _run_fixed(ls, end_s: float) -> dict:
    while ls.simulation.getTime() < end_s - 1e-9:
        ls.simulationStep()
    return {}


def _loop(ls, scenario: Scenario, controller: StageController, stage_sets: Mapping[str, StageSet],
          layouts: tuple[DetectorLayout, DetectorLayout | None], control_step_s: float, trace: list | None) -> dict:
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
            obs = observe(ls, layouts[0], scenario, heads, now, layouts[1])
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


def controller_factory(name: str) -> Callable[[Mapping[str, StageSet]], StageController] | None:
    """The stage controller called ``name`` in ``signal_control.registry`` (``fixed``: none, the net's own
    programs run); only tactical controllers that run alone drive SUMO's signals here.

    Raises:
        UnknownControllerError: ``name`` is not ``fixed`` nor such a controller (a ``TrafficError``).
    """
    from signal_control.registry import stage_controller_factory

    return stage_controller_factory(name)


def run_config(config: str | Path, controller: str, seed: int, sumo_home: str | None = None, **kwargs) -> dict:
    """``run_sumo`` on a SUMO config with a stage controller named in ``signal_control.registry`` (``fixed``,
    ``max-pressure``, ``adaptive-stage``; picklable entry point)."""
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
