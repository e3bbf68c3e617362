"""Coordinated-actuated control: the decision kernel on hand-made windows, the plan geometry, and runs in
the simulator (recall reproduces the plan, calls and gap-out, plan changes under the adaptive controller)."""

from __future__ import annotations

import numpy as np
import pytest

from signal_control.coordinated_actuated import (
    ActuatedParams,
    CoordinatedActuatedController,
    CoordinatedTiming,
    actuated_choice,
    between_platoons,
)
from tests.factories import mid, ns_ew_plan
from traffic.errors import ModelError
from traffic.plan_validation import ValidationRules
from traffic.stages import stage_set_from_plan

# a 2-stage signal: coordinated stage 0 green 0-30 s, 5 s clearance, side stage 1 green 35-50 s, cycle 55 s
WINDOWS = np.array([[1.0, 35.0, 50.0]])
CLEAR_S, MIN_GREEN_S, CALL, GAP = 5.0, 5.0, 0.5, 0.5


def choose(position_s, current, side_veh, served=False, late_s=0.0):
    return actuated_choice(position_s, current, 0, WINDOWS, np.array([served]), np.array([0.0, side_veh]),
                           CLEAR_S, MIN_GREEN_S, CALL, GAP, late_s)


def test_coordinated_stage_holds_until_its_yield_point_even_when_the_side_street_calls():
    assert choose(10.0, 0, side_veh=5) == (0, -1)
    assert choose(29.9, 0, side_veh=5) == (0, -1)
    assert choose(30.0, 0, side_veh=5) == (1, 0), "the yield point: the called side stage starts"


def test_no_call_dwells_in_the_coordinated_stage_and_a_late_call_is_served_while_it_fits():
    assert choose(30.0, 0, side_veh=0) == (0, -1)
    assert choose(40.0, 0, side_veh=2) == (1, 0), "40 + 5 clearance + 5 minimum green = 50, the force-off"
    assert choose(41.0, 0, side_veh=2) == (0, -1), "no room for its minimum green before the force-off"
    assert choose(41.0, 0, side_veh=2, late_s=1.0) == (1, 0), "within one control step of the last moment"


def test_side_stage_gaps_out_early_and_is_forced_off_at_its_planned_end():
    assert choose(38.0, 1, side_veh=3) == (1, -1), "vehicles left: keep serving"
    assert choose(38.0, 1, side_veh=0) == (0, -1), "gap-out: early return to the coordinated stage"
    assert choose(50.0, 1, side_veh=9) == (0, -1), "force-off, whatever is still waiting"


def test_the_tail_of_a_platoon_holds_the_coordinated_stage_while_the_side_window_keeps_room():
    def with_platoon(position_s, moving_veh):
        return actuated_choice(position_s, 0, 0, WINDOWS, np.array([False]), np.array([0.0, 3.0]), CLEAR_S,
                               MIN_GREEN_S, CALL, GAP, 1.0, platoon_veh=2.0, coordinated_moving=moving_veh)

    assert with_platoon(30.0, moving_veh=3) == (0, -1), "3 arterial vehicles still arriving: hold"
    assert with_platoon(39.0, moving_veh=3) == (0, -1), "39 + 1 step + 5 + 5 = 50: still room after one more step"
    assert with_platoon(40.0, moving_veh=3) == (1, 0), "no room for another step: the side street gets its green"
    assert with_platoon(30.0, moving_veh=2) == (1, 0), "the platoon has passed"


def test_pedestrians_call_their_stage_every_cycle_without_vehicles():
    def with_pedestrians(position_s, current, side_veh, called):
        return actuated_choice(position_s, current, 0, WINDOWS, np.array([False]), np.array([0.0, side_veh]),
                               CLEAR_S, MIN_GREEN_S, CALL, GAP, pedestrian_call=np.array([False, called]))

    assert with_pedestrians(30.0, 0, side_veh=0, called=True) == (1, 0), "a crossing walks only in the side stage"
    assert with_pedestrians(30.0, 0, side_veh=0, called=False) == (0, -1), "nobody calls: the arterial dwells"
    assert with_pedestrians(38.0, 1, side_veh=0, called=True) == (0, -1), "no vehicles: gaps out (after its minimum)"


def test_the_stage_where_a_crossing_walks_beside_the_coordinated_one_is_called_by_pedestrians(cross):
    from traffic.stages import stage_sets

    sets = stage_sets(list(cross.active_plan_set().values()), dict(cross.intersections))
    timing = CoordinatedTiming.of(cross.active_plan_set()["C"], sets["C"])
    names = [s.name for s in sets["C"].stages]
    called = {n for n, c in zip(names, timing.pedestrian_call, strict=True) if c}
    assert called == {"EW_through"}, "the crossings over the north and south legs walk with EW through only"
    assert timing.min_green_s[names.index("EW_through")] >= 7.0 + 12.8 / 1.2 - 1e-9


def test_with_pedestrian_recall_no_crossing_waits_more_than_a_cycle(cross):
    """No vehicle ever calls EW: with pedestrian recall its stage (where people cross the NS road) is
    still shown every cycle; without it (push buttons nobody pressed) it never is."""
    from dataclasses import replace as dc_replace

    from traffic.demand import Demand, Flow, FlowSlice

    keep = [r for r in cross.demand.routes.values() if r.id.startswith(("N_", "S_"))]
    flows = [Flow(r.id, (FlowSlice(0, 3600, 300.0),), route=r.id) for r in keep]
    scenario = dc_replace(cross, demand=Demand.build(list(cross.demand.vehicle_types.values()), keep, flows))
    ew = [s.name for s in stage_set_from_plan(cross.active_plan_set()["C"], cross.intersections["C"]).stages
          ].index("EW_through")
    sim, _ = _run(scenario, duration_s=900.0)
    starts = _green_starts(sim, ew)
    cycle_s = cross.active_plan_set()["C"].cycle_s
    assert sorted({int(t // cycle_s) for t in starts}) == list(range(int(900.0 // cycle_s))), "once every cycle"
    from traffic.stages import stage_sets

    sets = stage_sets(list(cross.active_plan_set().values()), dict(cross.intersections))
    quiet = CoordinatedActuatedController(sets, ActuatedParams(pedestrian_recall=False))
    sim, _ = _run(scenario, actuated=quiet, duration_s=900.0)
    assert _green_starts(sim, ew) == []


def test_a_window_is_served_at_most_once_a_cycle():
    assert choose(36.0, 0, side_veh=4, served=True) == (0, -1)


def test_recall_runs_the_plan_as_fixed_time():
    inf = np.inf
    assert choose(30.0, 0, side_veh=inf) == (1, 0)
    assert choose(45.0, 1, side_veh=inf) == (1, -1), "never gaps out"
    assert choose(50.0, 1, side_veh=inf) == (0, -1)


def test_timing_of_a_four_stage_plan_with_the_yield_advance(cross):
    plan = ns_ew_plan()  # NS_through 25, NS_left 10, EW_through 25, EW_left 10; 3 + 2 s clearances; 90 s
    stages = stage_set_from_plan(plan, cross.intersections["C"])
    t = CoordinatedTiming.of(plan, stages)
    assert t.coordinated == 0 and t.cycle_s == 90.0 and t.clearance_s == 5.0
    assert t.windows.tolist() == [[1, 30, 40], [2, 45, 70], [3, 75, 85]]
    assert t.own[0] == () and set(t.own[2]) == {mid(a, m) for a in "EW" for m in "rs"}
    early = CoordinatedTiming.of(plan, stages, yield_advance_s=3.0)
    assert early.windows[:, 1].tolist() == [27, 45, 75], "only the window right after the coordinated stage"
    latest = CoordinatedTiming.of(plan, stages, yield_advance_s=60.0).windows[0, 1]
    assert latest == pytest.approx(7 + 12.8 / 1.2 + 5), \
        "never before the coordinated stage's minimum green (its crossings over E and W: 7 s walk + 12.8 m at " \
        "1.2 m/s) and the clearance (5)"
    vehicles_only = stage_set_from_plan(plan, cross.intersections["C"], ValidationRules(pedestrians=None))
    assert CoordinatedTiming.of(plan, vehicles_only, yield_advance_s=60.0).windows[0, 1] == 10.0, \
        "without pedestrians: the vehicle minimum green (0 + 5) and the clearance (5)"
    assert t.min_green_s.tolist() == pytest.approx([7 + 12.8 / 1.2, 5.0, 7 + 12.8 / 1.2, 5.0])


def test_a_plan_phase_that_is_no_stage_is_refused(cross):
    from dataclasses import replace

    stages = stage_set_from_plan(ns_ew_plan(), cross.intersections["C"])
    plan = ns_ew_plan()
    odd = replace(plan, phases=(replace(plan.phases[0], protected=frozenset({"N_C>C_S"})), *plan.phases[1:]))
    with pytest.raises(ModelError, match="is not a stage"):
        CoordinatedTiming.of(odd, stages)


def test_bad_parameters_are_refused():
    with pytest.raises(ModelError):
        ActuatedParams(gap_veh=-1.0)
    with pytest.raises(ModelError, match="platoon_veh"):
        ActuatedParams(platoon_veh=float("nan"))


def _run(scenario, controller=None, actuated=None, seed=3, **kwargs):
    from simulation.engine import Simulation
    from simulation.stage_control import StageControlSpec
    from traffic.stages import stage_sets

    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    ctl = actuated if actuated is not None else CoordinatedActuatedController(sets)
    sim = Simulation(scenario, seed, controller=controller,
                     stage_control=StageControlSpec(ctl, sets, control_step_s=1.0, detector_range_m=80.0), **kwargs)
    return sim.run(), ctl


def _green_starts(sim, stage):
    return [t for t, iid, s in sim.stage_control.greens if s == stage]


def test_on_recall_the_signal_shows_its_plan(cross):
    from traffic.stages import stage_sets

    sets = stage_sets(list(cross.active_plan_set().values()), dict(cross.intersections))
    ctl = CoordinatedActuatedController(sets)
    ctl.set_recall("C", True)
    sim, _ = _run(cross, actuated=ctl, duration_s=900.0)
    for stage, start in ((1, 30.0), (2, 45.0), (3, 75.0), (0, 0.0)):
        starts = [t for t in _green_starts(sim, stage) if t > 60.0]
        assert starts, stage
        assert all(abs(((t - start + 45.0) % 90.0) - 45.0) <= 1.0 + 1e-9 for t in starts), (stage, starts[:5])


def test_actuation_skips_an_empty_side_stage_and_gains_on_the_fixed_plan(cross):
    """Heavy north-south through traffic, nothing turning left from north and south: the NS_left stage
    is never shown, the others are served on call, and the vehicles lose less time than under the plan."""
    from dataclasses import replace as dc_replace

    from simulation.engine import Simulation
    from simulation.metrics import run_metrics
    from traffic.demand import Demand, Flow, FlowSlice

    def veh_h(route: str) -> float:
        return 0.0 if route in ("N_l", "S_l") else (700.0 if route in ("N_s", "S_s") else 90.0)

    flows = [Flow(r.id, (FlowSlice(0, 3600, veh_h(r.id)),), route=r.id) for r in cross.demand.routes.values()
             if veh_h(r.id) > 0]
    scenario = dc_replace(cross, demand=Demand.build(list(cross.demand.vehicle_types.values()),
                                                     [r for r in cross.demand.routes.values() if veh_h(r.id) > 0],
                                                     flows))
    sim, _ = _run(scenario)
    assert _green_starts(sim, 1) == [], "no call, no NS_left green"
    assert len(_green_starts(sim, 2)) > 20
    fixed = run_metrics(Simulation(scenario, 3).run())["metrics"]
    actuated = run_metrics(sim)["metrics"]
    assert actuated["arrived"] == fixed["arrived"]
    assert actuated["mean_time_loss_s"] < 0.8 * fixed["mean_time_loss_s"]
    a = run_metrics(_run(scenario)[0])["metrics"]
    assert a == actuated, "deterministic for a seed"


def test_the_coordinated_stage_follows_a_plan_change_from_a_plan_controller(cross):
    """A plan controller switches C to a 70-s plan at 300 s; the actuated signal's coordinated green then
    recurs every 70 s instead of 90 s, and the plan change is recorded."""
    from traffic.control import SignalState

    # 20 + 5 + 20 + 5 + 4 x 5 = 70 s: the through greens hold their crossings' 17.7-s walk + clearance
    short = ns_ew_plan("short", green_s=20.0, left_s=5.0)

    class Switch:
        def decide(self, now_s, counts, signals: dict[str, SignalState]):
            return {"C": [short]} if now_s == 300.0 else {}

    sim, _ = _run(cross, controller=Switch(), duration_s=1200.0, detector_interval_s=300.0)
    assert [(iid, name) for _, iid, name in sim.plan_changes] == [("C", "short")]
    switched = sim.plan_changes[0][0]
    assert switched == 360.0, "at the end of the 90-s cycle in progress"
    late = [t for t in _green_starts(sim, 0) if t >= switched]
    assert len(late) > 10
    gaps = np.diff(late)
    assert np.all(gaps <= 70.0 + 1e-9), "the coordinated stage starts no later than the 70-s plan wants it"
    assert np.all(gaps >= 70.0 - 15.0 - 1e-9), "early return moves it at most by the other stages' greens"


def _between(chosen, current, green_s, side_veh, arterial_veh, max_green_s=10.0):
    return between_platoons(chosen, current, 0, green_s, np.array([0.0, side_veh]), np.array([1]), arterial_veh,
                            CALL, GAP, 0.5, max_green_s)


def test_between_platoons_a_called_side_street_is_served_at_once_when_nothing_arrives_on_the_arterial():
    assert _between(0, 0, 12.0, side_veh=2, arterial_veh=0) == 1, "the arterial's advance stretch is empty"
    assert _between(0, 0, 12.0, side_veh=2, arterial_veh=1) == 0, "a vehicle arriving: the wave keeps its green"
    assert _between(0, 0, 12.0, side_veh=0, arterial_veh=0) == 0, "no call: the coordinated stage dwells"


def test_between_platoons_the_side_green_goes_on_while_called_up_to_its_maximum():
    assert _between(0, 1, 6.0, side_veh=2, arterial_veh=0) == 1
    assert _between(0, 1, 6.0, side_veh=0, arterial_veh=0) == 0, "gap-out"
    assert _between(0, 1, 10.0, side_veh=2, arterial_veh=0) == 0, "its maximum green"
    assert _between(0, 1, 6.0, side_veh=2, arterial_veh=3) == 0, "a platoon arriving ends it"


def test_between_platoons_leaves_the_coordinated_plan_alone_otherwise():
    assert _between(1, 0, 12.0, side_veh=2, arterial_veh=0) == 1, "a window's own start is not changed"
    assert _between(1, 1, 6.0, side_veh=0, arterial_veh=0) == 1


def test_advance_detectors_are_asked_for_and_refused_when_bad(cross):
    from simulation.detector_layout import advance_layout, detector_layout
    from traffic.stages import stage_sets

    sets = stage_sets(list(cross.active_plan_set().values()), dict(cross.intersections))
    ctl = CoordinatedActuatedController(sets)
    assert ctl.advance_range_m == ActuatedParams().free_range_m
    advance = advance_layout(cross, list(sets), ctl)
    main = detector_layout(cross, list(sets), 80.0)
    assert advance is not None and not {d.id for d in advance.all()} & {d.id for d in main.all()}, \
        "SUMO needs distinct ids for the two layouts"
    assert advance_layout(cross, list(sets), CoordinatedActuatedController(sets, ActuatedParams(free_range_m=None))) \
        is None
    with pytest.raises(ModelError, match="free_range_m"):
        ActuatedParams(free_range_m=0.0)


def _light_arterial(cross):
    """North-south through (the coordinated stage) light, east-west through moderate, no left turns."""
    from dataclasses import replace as dc_replace

    from traffic.demand import Demand, Flow, FlowSlice

    def veh_h(route: str) -> float:
        return 0.0 if route.endswith("_l") else (80.0 if route in ("N_s", "S_s") else 120.0)

    routes = [r for r in cross.demand.routes.values() if veh_h(r.id) > 0]
    flows = [Flow(r.id, (FlowSlice(0, 3600, veh_h(r.id)),), route=r.id) for r in routes]
    return dc_replace(cross, demand=Demand.build(list(cross.demand.vehicle_types.values()), routes, flows))


def test_side_streets_are_served_between_platoons_only_with_advance_detectors(cross):
    """A light arterial: with advance detectors the east-west stage also starts outside its window (the
    arterial empty), and the vehicles lose less time than with the windows alone."""
    from simulation.metrics import run_metrics
    from traffic.stages import stage_sets

    scenario = _light_arterial(cross)
    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    runs = {}
    for name, params in (("windows", ActuatedParams(free_range_m=None)), ("between", ActuatedParams())):
        sim, _ = _run(scenario, actuated=CoordinatedActuatedController(sets, params), duration_s=3600.0)
        anchor = sim.plan_clocks["C"].anchor_s
        outside = [t for t in _green_starts(sim, 2) if not 40.0 - 1e-9 <= (t - anchor) % 90.0 < 70.0]
        runs[name] = (outside, run_metrics(sim)["metrics"])
    assert runs["windows"][0] == [], "without advance detectors the stage starts only in its window"
    assert len(runs["between"][0]) > 5
    assert runs["between"][1]["inserted"] == runs["windows"][1]["inserted"]
    assert runs["between"][1]["mean_time_loss_s"] < 0.8 * runs["windows"][1]["mean_time_loss_s"]


def _ew_coordinated_plan():
    """NS_through 25, NS_left 10, EW_through 30 (the longest green: the coordinated stage, not the plan's
    first phase), EW_left 10; 5-s clearances; 95-s cycle."""
    from dataclasses import replace as dc_replace

    plan = ns_ew_plan()
    phases = (*plan.phases[:2], dc_replace(plan.phases[2], green_s=30.0), plan.phases[3])
    return dc_replace(plan, cycle_s=95.0, phases=phases)


def test_windows_follow_the_coordinated_stage_in_program_order_when_it_is_not_the_first_phase(cross):
    stages = stage_set_from_plan(_ew_coordinated_plan(), cross.intersections["C"])
    t = CoordinatedTiming.of(_ew_coordinated_plan(), stages)
    names = [s.name for s in stages.stages]
    assert names[t.coordinated] == "EW_through"
    # EW_left (80-90 s of the program) comes first, then the NS stages of the next program cycle (0-25 s,
    # 30-40 s, shifted by the cycle): positions count from EW_left's yield point (75 s)
    assert [names[int(k)] for k in t.windows[:, 0]] == ["EW_left", "NS_through", "NS_left"]
    assert t.start_s == 75.0
    assert t.windows[:, 1:].tolist() == [[80.0, 90.0], [95.0, 120.0], [125.0, 135.0]]


def test_after_an_early_gap_out_the_next_window_across_the_program_end_is_not_skipped(cross):
    """EW_left gaps out at 88 s. The next window, NS_through, starts the next program cycle: the old
    geometry ended the cycle at the program's end, found no later window, and returned to the coordinated
    stage, whose minimum green then ran past NS_through's last start: NS_through was skipped that cycle
    (isolated_x080 with its EW green the longest: 81 s mean time loss instead of 42 s)."""
    stages = stage_set_from_plan(_ew_coordinated_plan(), cross.intersections["C"])
    t = CoordinatedTiming.of(_ew_coordinated_plan(), stages)
    ew_left = [s.name for s in stages.stages].index("EW_left")
    demand = np.array([3.0, 3.0, 3.0, 0.0])  # vehicles on every stage's own movements, none left on EW_left
    stage, window = actuated_choice(88.0, ew_left, t.coordinated, t.windows, np.array([True, False, False]), demand,
                                    t.clearance_s, t.min_green_s, 0.5, 0.5, 1.0)
    assert [s.name for s in stages.stages][stage] == "NS_through" and window == 1


def test_every_stage_is_served_every_cycle_when_the_coordinated_stage_is_not_the_first_phase(cross):
    """The whole signal in the simulator, throughs 300 veh/h, turns 60 veh/h: the left stages often gap
    out early (or get no call), and both through stages are still shown in every cycle."""
    from dataclasses import replace as dc_replace

    from traffic.demand import Demand, Flow, FlowSlice

    plan = _ew_coordinated_plan()
    flows = [Flow(r.id, (FlowSlice(0, 3600, 300.0 if r.id.endswith("_s") else 60.0),), route=r.id)
             for r in cross.demand.routes.values()]
    scenario = dc_replace(cross, plans={"C": {plan.name: plan}},
                          demand=Demand.build(list(cross.demand.vehicle_types.values()),
                                              list(cross.demand.routes.values()), flows))
    sim, _ = _run(scenario, duration_s=1900.0)
    first = 75.0 + plan.cycle_s  # cycles from the second on (the first may see no turning vehicle yet)
    names = [s.name for s in stage_set_from_plan(plan, cross.intersections["C"]).stages]
    for stage in (names.index("NS_through"), names.index("EW_through")):
        cycles = {int((t - first) // plan.cycle_s) for t in _green_starts(sim, stage) if t >= first}
        assert set(range(int((1900.0 - first) // plan.cycle_s))) <= cycles, stage
