"""The adaptive controller driving SUMO micro's signals through libsumo, in the loop.

SUMO plays the street: every step each vehicle's road is read, and a vehicle that moves from one
normal edge to the next has crossed a junction: that counts for its movement (as the simulator's
stop-line detectors do). Every detector interval the counts go to the controller as
``IntervalCounts``, with each signal's state; its plan sequences run with Greenwave's own timing
rules (``simulation.signals.SignalTimer``: a new plan at the end of the cycle in progress,
transition cycles one cycle each), and each plan is loaded into SUMO with
``trafficlight.setProgramLogic`` when it starts (SUMO's 1-s steps round the switch up to the next
second). Fixed plans run the same way, with no controller. One SUMO per process (libsumo).

With ``actuated``, the plans in force run coordinated-actuated, as in Greenwave's simulator:
Greenwave's lane-area detectors (``simulation.detector_layout``, the layout the simulator reads)
give presence, ``CoordinatedActuatedController`` follows each signal's ``SignalTimer`` every 1-s
step, and Greenwave's signal heads set SUMO's states (``trafficlight.setRedYellowGreenState``).
"""

from __future__ import annotations

import statistics
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from signal_control.adaptive import AdaptiveController, AdaptiveParams, TimeOfDayPlan, scenario_design_veh_h
from signal_control.coordinated_actuated import DETECTOR_RANGE_M, ActuatedParams, CoordinatedActuatedController
from simulation.signals import SignalTimer
from simulation.sumo_control import install_detectors, observe
from traffic.control import SignalState
from traffic.counts import IntervalCounts
from traffic.plan_validation import check_plan
from traffic.scenario import Scenario
from traffic.signal_plan import SignalPlan
from traffic.stages import StageSignal, stage_sets
from traffic.sumo import plan_to_sumo_phases


def _load(ls, scenario: Scenario, iid: str, plan: SignalPlan, start_s: float, now_s: float) -> None:
    """Run ``plan`` in SUMO with its phase 0 having started at ``start_s`` (<= ``now_s``)."""
    phases = plan_to_sumo_phases(plan, scenario.intersections[iid].signal_links)
    tl = ls.trafficlight
    logic = tl.Logic("gw", 0, 0, [tl.Phase(p.duration_s, p.state) for p in phases])
    tl.setProgramLogic(iid, logic)
    tl.setProgram(iid, "gw")
    pos = (now_s - start_s) % plan.cycle_s  # where in the cycle we are now
    k, t = 0, 0.0
    while k < len(phases) - 1 and t + phases[k].duration_s <= pos:
        t += phases[k].duration_s
        k += 1
    tl.setPhase(iid, k)
    tl.setPhaseDuration(iid, max(0.001, phases[k].duration_s - (pos - t)))


def run_in_sumo(scenario: Scenario, plans: Mapping[str, SignalPlan], net: Path, routes: Path, seed: int,
                params: AdaptiveParams | None = None, interval_s: float = 300.0,
                actuated: ActuatedParams | None = None) -> dict:
    """One seed; ``params`` None runs ``plans`` fixed, else the adaptive controller with ``plans`` as its
    time-of-day plan; ``actuated`` runs the plans in force coordinated-actuated. Returns the
    all-vehicle mean time loss and the number of plans checked."""
    import libsumo as ls

    with tempfile.TemporaryDirectory(prefix="gw_libsumo_") as d:
        trips = Path(d) / "tripinfo.xml"
        args = ["sumo", "-n", str(net), "-r", str(routes), "--step-length", "1", "--seed", str(seed),
                "--no-step-log", "--no-warnings", "--tripinfo-output", str(trips)]
        act = None
        if actuated is not None:
            sets = stage_sets(list(plans.values()), dict(scenario.intersections))
            actuator = CoordinatedActuatedController(sets, actuated)
            layouts, more = install_detectors(scenario, sets, actuator, DETECTOR_RANGE_M, Path(d))
            args += more
            act = (actuator, sets, *layouts)
        ls.start(args)
        try:
            out = _loop(ls, scenario, plans, params, interval_s, act)
        finally:
            ls.close()
        loss = [float(t.get("timeLoss", "nan")) for t in ET.parse(trips).getroot().iter("tripinfo")]
    out["mean_time_loss_s"] = statistics.fmean(loss)
    out["arrived"] = len(loss)
    return out


def _loop(ls, scenario: Scenario, plans: Mapping[str, SignalPlan], params: AdaptiveParams | None,
          interval_s: float, act: tuple | None = None) -> dict:
    timers = {iid: SignalTimer(p, 0.0) for iid, p in plans.items()}
    heads: dict[str, StageSignal] = {}
    if act is None:
        for iid, p in plans.items():
            _load(ls, scenario, iid, p, p.offset_s, 0.0)
    else:
        actuator, sets, _, _ = act
        actuator.attach(lambda iid: (timers[iid].plan, timers[iid].anchor_s))
        heads = {iid: StageSignal(ss, 0, 0.0) for iid, ss in sets.items()}
        for iid, head in heads.items():
            ls.trafficlight.setRedYellowGreenState(iid, head.state())
    # the adaptive controller's time-of-day plans are the best fixed ones, made for the scenario's average demand
    tod = [TimeOfDayPlan(0.0, "tod", dict(plans), scenario_design_veh_h(scenario))]
    ctl = AdaptiveController(scenario, tod, params) if params else None
    move_of = {}
    owner = {m: iid for iid, inter in scenario.intersections.items() for m in inter.movements}
    for m in scenario.network.movements.values():
        if m.id in owner:
            move_of[(m.from_link, m.to_link)] = m.id
    last: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = {}
    checked, t_start = 0, 0.0
    end = scenario.end_s + 3600.0
    while True:
        ls.simulationStep()
        now = ls.simulation.getTime()
        for vid in ls.simulation.getArrivedIDList():
            last.pop(vid, None)
        for vid in ls.vehicle.getIDList():
            road = ls.vehicle.getRoadID(vid)
            if not road or road[0] == ":":
                continue
            prev = last.get(vid)
            if prev is not None and prev != road:
                m = move_of.get((prev, road))
                if m is not None:
                    counts.setdefault(m, {"car": 0})["car"] += 1
            last[vid] = road
        for iid, timer in timers.items():
            while timer.switch_at_s <= now + 1e-9:
                timer.commit()
                if act is None:
                    _load(ls, scenario, iid, timer.plan, timer.anchor_s, now)
        if act is not None:
            _actuate(ls, scenario, act, heads, now)
        if ctl is not None and now - t_start >= interval_s - 1e-9:
            emitted = {iid: IntervalCounts(f"sumo:{iid}", t_start, now - t_start,
                                           {m: counts.get(m, {"car": 0}) for m in inter.movements}, intersection=iid)
                       for iid, inter in scenario.intersections.items()}
            counts = {}
            t_start = now
            states = {iid: SignalState(iid, t.plan, t.cycle_end_after(now), t.pending_plan is not None)
                      for iid, t in timers.items()}
            for iid, seq in (ctl.decide(now, emitted, states) or {}).items():
                seq = list(seq)
                for p in seq:
                    check_plan(p, scenario.intersections[iid])  # raises on an unsafe plan
                    checked += 1
                timers[iid].request(seq, now)
        if (ls.simulation.getMinExpectedNumber() == 0 and now >= scenario.end_s) or now >= end:
            break
    return {"checked": checked}


def _actuate(ls, scenario: Scenario, act: tuple, heads: Mapping[str, StageSignal], now: float) -> None:
    """One control step: clearances run on, then the actuated controller's choices, shown in SUMO."""
    actuator, _, layout, advance = act
    changed = {iid for iid, head in heads.items() if head.advance(now)}
    for iid, stage in actuator.choose(now, observe(ls, layout, scenario, heads, now, advance)).items():
        if heads[iid].request(int(stage), now):
            changed.add(iid)
    for iid in changed:
        ls.trafficlight.setRedYellowGreenState(iid, heads[iid].state())


def _task(args: tuple) -> tuple[str, int, dict]:
    name, scenario, plans, net, routes, seed, params, actuated = args
    return name, seed, run_in_sumo(scenario, plans, net, routes, seed, params, actuated=actuated)


def compare_in_sumo(scenario: Scenario, plan_sets: Mapping[str, Mapping[str, SignalPlan] | None],
                    adaptive_tod: Mapping[str, SignalPlan], params: AdaptiveParams, seeds: list[int],
                    jobs: int = 2, actuated: ActuatedParams | None = None) -> dict[str, dict]:
    """Each fixed plan set (None: the scenario's own) and the adaptive controller, in SUMO, per seed.

    Rows: one per plan set; ``adaptive`` (its plans run coordinated-actuated with ``actuated``, as
    fixed time without); with ``actuated`` also ``adaptive_plans_only`` (fixed time between re-plans)
    and ``best_fixed_actuated`` (``adaptive_tod`` run coordinated-actuated, never re-planned).
    """
    import concurrent.futures as cf

    from benchmarks._sumo_eval import REF_SCN
    from benchmarks._sumo_tools_chain import write_sliced_flows

    net = REF_SCN / "arterial.net.xml"
    with tempfile.TemporaryDirectory(prefix="gw_cl_routes_") as d:
        routes = Path(d) / "timevarying.rou.xml"
        write_sliced_flows(scenario, REF_SCN / "arterial.rou.xml", routes)
        tasks = [(name, scenario, dict(p or scenario.active_plan_set()), net, routes, s, None, None)
                 for name, p in plan_sets.items() for s in seeds]
        tasks += [("adaptive", scenario, dict(adaptive_tod), net, routes, s, params, actuated) for s in seeds]
        if actuated is not None:
            tasks += [("adaptive_plans_only", scenario, dict(adaptive_tod), net, routes, s, params, None)
                      for s in seeds]
            tasks += [("best_fixed_actuated", scenario, dict(adaptive_tod), net, routes, s, None, actuated)
                      for s in seeds]
        with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
            runs = list(pool.map(_task, tasks))
    out: dict[str, dict] = {}
    for name, seed, r in runs:
        row = out.setdefault(name, {"per_seed": {}, "checked": 0})
        row["per_seed"][seed] = r["mean_time_loss_s"]
        row["checked"] += r["checked"]
    for row in out.values():
        v = [row["per_seed"][s] for s in seeds]
        row["mean"], row["sd"] = statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)
    return out
