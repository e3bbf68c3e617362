"""Stage control in Greenwave's simulator: what the signal head tells the lanes."""

from __future__ import annotations

import itertools
import math

import pytest

from simulation.stage_control import StageTimer
from tests.factories import mid, ns_ew_plan
from traffic.plan_validation import ValidationRules
from traffic.stages import StageSignal, stage_set_from_plan


@pytest.fixture
def head(cross):
    # vehicle minimum greens only: the pedestrians' are tests/traffic/test_pedestrians.py's
    return StageSignal(stage_set_from_plan(ns_ew_plan(), cross.intersections["C"], ValidationRules(pedestrians=None)),
                       0, now_s=0.0)


def test_green_movement_goes_until_the_earliest_possible_switch(head):
    timer = StageTimer(head, startup_s=1.5, now_s=0.0)
    timer.lock_until(5.0)  # next control step at 5 s; minimum green also ends at 5 s
    ns = mid("N", "s")
    assert timer.next_go(ns, 0.5) == (0.0, 5.0, False, True)  # start-up: the queue stood at red
    assert timer.next_go(ns, 2.0) == (2.0, 5.0, False, False)
    assert timer.next_go(ns, 6.0) == (6.0, 6.0, False, False)  # beyond what is known: ask again then
    timer.lock_until(10.0)
    assert timer.next_go(ns, 6.0) == (6.0, 10.0, False, False)


def test_red_movement_waits_and_the_target_knows_when_it_starts(head):
    timer = StageTimer(head, startup_s=1.5, now_s=0.0)
    ew = mid("E", "s")
    assert timer.next_go(ew, 1.0) == (math.inf, math.inf, False, True)
    assert head.request(2, 10.0)  # to EW_through: 3 s yellow, 2 s all-red
    timer.refresh(10.0)
    t_go, go_end, _, waited = timer.next_go(ew, 10.0)
    assert (t_go, waited) == (15.0, True) and go_end >= 15.0 + 5.0
    assert timer.next_go(mid("N", "s"), 10.0)[0] == math.inf  # its green ended: yellow, then red
    head.advance(13.0)
    head.advance(15.0)
    timer.refresh(15.0)
    timer.lock_until(20.0)
    assert timer.next_go(ew, 15.0) == (15.0, 20.0, False, True)
    assert timer.next_go(ew, 17.0) == (17.0, 20.0, False, False)


def test_minimum_green_holds_the_lease(head):
    timer = StageTimer(head, startup_s=1.5, now_s=0.0)
    head.request(2, 10.0)
    head.advance(15.0)
    timer.refresh(15.0)
    timer.lock_until(16.0)  # a control step 1 s later cannot end the 5-s minimum green
    assert timer.next_go(mid("E", "s"), 18.0)[1] == 20.0


def _unbalanced(cross, heavy_veh_h=650.0, light_veh_h=80.0):
    """The cross with heavy north-south through traffic and light everything else."""
    from dataclasses import replace as dc_replace

    from traffic.demand import Demand, Flow, FlowSlice

    flows = [Flow(r.id, (FlowSlice(0, 3600, heavy_veh_h if r.id in ("N_s", "S_s") else light_veh_h),), route=r.id)
             for r in cross.demand.routes.values()]
    return dc_replace(cross, demand=Demand.build(list(cross.demand.vehicle_types.values()),
                                                 list(cross.demand.routes.values()), flows))


def _spec(scenario, controller_cls, step_s=5.0):
    from simulation.stage_control import StageControlSpec
    from traffic.stages import stage_sets

    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    return StageControlSpec(controller_cls(sets), sets, step_s)


@pytest.mark.parametrize("controller", ["max_pressure", "adaptive"])
def test_stage_control_beats_an_unsuited_fixed_plan_and_stays_safe(cross, controller):
    from signal_control.adaptive_stage import AdaptiveStageController
    from signal_control.max_pressure import MaxPressureController
    from simulation.engine import Simulation
    from simulation.metrics import run_metrics

    cls = {"max_pressure": MaxPressureController, "adaptive": AdaptiveStageController}[controller]
    scenario = _unbalanced(cross)
    fixed = run_metrics(Simulation(scenario, 3).run())["metrics"]
    sim = Simulation(scenario, 3, stage_control=_spec(scenario, cls))
    staged = run_metrics(sim.run())["metrics"]
    assert staged["arrived"] == fixed["arrived"] == sim.inserted and staged["teleports"] == 0
    # the fixed plan gives north-south 25 s of an 80-s cycle: stage control serves the demand there is
    assert staged["mean_time_loss_s"] < 0.8 * fixed["mean_time_loss_s"]
    control = sim.stage_control
    stages = control.stage_sets["C"]
    starts = [(t, s) for t, i, s in control.greens if i == "C"]
    assert len(starts) > 20
    for (t0, a), (t1, b) in itertools.pairwise(starts):
        clearance = stages.clearance(a, b)
        assert t1 - t0 >= stages.min_green_s + clearance.yellow_s + clearance.all_red_s - 1e-9


def test_stage_control_is_deterministic_and_exclusive(cross):
    from signal_control.max_pressure import MaxPressureController
    from simulation.engine import Simulation
    from simulation.metrics import run_metrics
    from traffic.errors import ModelError

    scenario = _unbalanced(cross)
    a = run_metrics(Simulation(scenario, 5, stage_control=_spec(scenario, MaxPressureController)).run())
    b = run_metrics(Simulation(scenario, 5, stage_control=_spec(scenario, MaxPressureController)).run())
    assert a["metrics"] == b["metrics"]
    sim = Simulation(scenario, 5, stage_control=_spec(scenario, MaxPressureController))
    with pytest.raises(ModelError, match="under stage control"):
        sim.request_plan("C", ns_ew_plan("other"))
    with pytest.raises(ModelError, match="not both"):
        Simulation(scenario, 5, controller=lambda now, counts: None,
                   stage_control=_spec(scenario, MaxPressureController))


def test_a_controller_with_an_advance_range_sees_the_vehicles_on_that_stretch(cross):
    """``advance_range_m`` adds a second set of detectors: ``approaching_veh`` counts every vehicle on the
    longer stretch (never fewer than the approach detectors see); without it, nothing."""
    from simulation.engine import Simulation
    from simulation.stage_control import StageControlSpec
    from traffic.stages import stage_sets

    class Recorder:
        def __init__(self, advance_range_m):
            self.advance_range_m = advance_range_m
            self.seen = []

        def choose(self, now_s, observations):
            self.seen.append(observations["C"])
            return {}

    scenario = _unbalanced(cross)
    sets = stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))
    for advance in (None, 200.0):
        rec = Recorder(advance)
        Simulation(scenario, 5, duration_s=600.0, stage_control=StageControlSpec(rec, sets, 5.0, 40.0)).run()
        if advance is None:
            assert all(o.approaching_veh == {} for o in rec.seen)
            continue
        near = [sum(o.queue_veh[m] + o.moving_veh[m] for m in o.queue_veh) for o in rec.seen]
        far = [sum(o.approaching_veh.values()) for o in rec.seen]
        assert all(f >= n - 1e-9 for n, f in zip(near, far, strict=True))
        assert sum(far) > 1.5 * sum(near), "200 m hold more vehicles than 40 m"


def test_simulate_cli_runs_stage_control(capsys):
    import json

    from greenwave.cli.main import main

    assert main(["simulate", "arterial", "--controller", "max-pressure", "--duration-s", "900", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"].startswith("max-pressure") and out["metrics"]["arrived"] > 100
    assert main(["simulate", "arterial", "--controller", "adaptive-stage", "--detector-range-m", "-5"]) == 2
    assert "must be > 0" in capsys.readouterr().err


def test_simulate_cli_runs_plans_coordinated_actuated(capsys):
    import json

    from greenwave.cli.main import main

    assert main(["simulate", "arterial", "--actuated", "--duration-s", "900", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"].endswith("(coordinated-actuated)") and out["metrics"]["arrived"] > 100
    assert main(["simulate", "arterial", "--controller", "adaptive", "--actuated", "--duration-s", "900",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"] == "adaptive (coordinated-actuated)"
    assert main(["simulate", "arterial", "--controller", "max-pressure", "--actuated"]) == 2
    assert "--actuated runs plans" in capsys.readouterr().err
    assert main(["simulate", "arterial", "--control-step-s", "2"]) == 2
    assert "apply to stage control and --actuated only" in capsys.readouterr().err
