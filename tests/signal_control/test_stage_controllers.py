"""Stage controllers: max pressure on a hand-computed example, Greenwave's adaptive stage control."""

from __future__ import annotations

import numpy as np
import pytest

from signal_control.adaptive_stage import AdaptiveStageController, AdaptiveStageParams, stage_choice
from signal_control.max_pressure import MaxPressureController, MaxPressureParams, stage_pressures
from tests.factories import mid, ns_ew_plan
from traffic.control import StageObservation
from traffic.errors import ModelError
from traffic.stages import stage_set_from_plan


def _obs(inter, stage=0, green_s=20.0, can_switch=True, queue=None, moving=None, exits=None, storage=13.0):
    ms = list(inter.movements)
    return StageObservation(inter.id, stage, green_s, can_switch,
                            {m: (queue or {}).get(m, 0.0) for m in ms}, {m: (moving or {}).get(m, 0.0) for m in ms},
                            {m: (exits or {}).get(m, 0.0) for m in ms}, dict.fromkeys(ms, storage),
                            dict.fromkeys(ms, storage))


@pytest.fixture
def stages(cross):
    return {"C": stage_set_from_plan(ns_ew_plan(), cross.intersections["C"])}


def test_max_pressure_by_hand(cross, stages):
    inter = cross.intersections["C"]
    # NS through stage: N_s 6 queued + 2 moving, S_s 4 queued, N_r 1; its exit C_S holds 1.5 veh per lane.
    # EW through stage: E_s 9 queued, W_s 2 queued, exits empty.
    queue = {mid("N", "s"): 6.0, mid("S", "s"): 4.0, mid("N", "r"): 1.0, mid("E", "s"): 9.0, mid("W", "s"): 2.0}
    moving = {mid("N", "s"): 2.0}
    exits = {mid("N", "s"): 1.5}
    ctl = MaxPressureController(stages)
    p = ctl.pressures(_obs(inter, queue=queue, moving=moving, exits=exits))
    # every movement here has one lane: pressure = (queue + moving) - 1 lane * exit per lane
    assert p[0] == pytest.approx((6 + 2 - 1.5) + 4 + 1)  # NS_through = 11.5
    assert p[1] == pytest.approx(0.0)  # NS_left
    assert p[2] == pytest.approx(9 + 2)  # EW_through = 11
    assert ctl.choose(0.0, {"C": _obs(inter, queue=queue, moving=moving, exits=exits)}) == {"C": 0}
    halting_only = MaxPressureController(stages, MaxPressureParams(count_moving=False))
    assert halting_only.choose(0.0, {"C": _obs(inter, queue=queue, moving=moving, exits=exits)}) == {"C": 2}


def test_max_pressure_keeps_the_stage_on_ties_and_waits_for_min_green(cross, stages):
    inter = cross.intersections["C"]
    ctl = MaxPressureController(stages)
    tie = {mid("N", "s"): 3.0, mid("E", "s"): 3.0}
    assert ctl.choose(0.0, {"C": _obs(inter, stage=2, queue=tie)}) == {"C": 2}
    assert ctl.choose(0.0, {"C": _obs(inter, stage=2, can_switch=False, queue={mid("N", "s"): 9.0})}) == {}


def test_pressure_kernel_counts_exit_load_per_lane():
    membership = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = stage_pressures(membership, np.array([10.0, 4.0, 7.0]), np.array([2.0, 1.0, 1.0]), np.array([3.0, 0.0, 1.0]))
    assert p.tolist() == [10 - 2 * 3 + 4, 7 - 1]


def _choice(load, current=0, green_s=10.0, red_s=(0.0, 0.0, 0.0), margin=0.0, max_red_s=90.0, max_green_s=60.0,
            exit_load=(0.0, 0.0, 0.0)):
    membership = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    load = np.array(load, float)
    return stage_choice(membership, load, np.ones(3), np.array(exit_load, float), current, green_s,
                        np.array(red_s, float), load > 0.05, margin, max_red_s, max_green_s)


def test_adaptive_gives_the_green_to_the_largest_pressure():
    assert _choice([0.3, 0.2, 0.1]) == 0  # the current stage leads: hold
    assert _choice([0.1, 0.5, 0.2]) == 1
    assert _choice([0.1, 0.5, 0.2], exit_load=(0.0, 0.45, 0.0)) == 2  # stage 1's exit is nearly full


def test_adaptive_margin_makes_it_hold():
    assert _choice([0.3, 0.5, 0.0], margin=0.3) == 0
    assert _choice([0.3, 0.7, 0.0], margin=0.3) == 1


def test_adaptive_serves_a_movement_waiting_too_long():
    # stage 1 has vehicles waiting 100 s: served although stage 0's pressure is larger
    assert _choice([0.8, 0.1, 0.0], red_s=(0, 100, 0)) == 1
    # an empty approach that has not been green for long is not "starving"
    assert _choice([0.8, 0.0, 0.0], red_s=(0, 100, 100)) == 0


def test_adaptive_ends_a_green_at_max_green_only_when_someone_waits():
    assert _choice([0.9, 0.1, 0.0], green_s=60.0) == 1
    assert _choice([0.9, 0.0, 0.0], green_s=60.0) == 0


def test_adaptive_controller_normalises_by_detected_storage(cross, stages):
    inter = cross.intersections["C"]
    ctl = AdaptiveStageController(stages)
    obs = _obs(inter, stage=1, queue={mid("E", "s"): 6.0, mid("N", "s"): 5.0}, storage=13.0)
    short_ns = _obs(inter, stage=1, queue={mid("E", "s"): 6.0, mid("N", "s"): 5.0})
    short_ns.storage_veh[mid("N", "s")] = 5.0  # N's approach is short and full
    assert ctl.choose(0.0, {"C": obs}) == {"C": 2}
    assert AdaptiveStageController(stages).choose(0.0, {"C": short_ns}) == {"C": 0}
    assert MaxPressureController(stages).choose(0.0, {"C": short_ns}) == {"C": 2}  # counts vehicles: 6 > 5


def test_adaptive_parameters_are_checked():
    with pytest.raises(ModelError, match="max_red_s"):
        AdaptiveStageParams(max_red_s=0.0)
    with pytest.raises(ModelError, match="switch_margin"):
        AdaptiveStageParams(switch_margin=-1.0)
