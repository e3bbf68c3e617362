"""Coordinated-actuated control in SUMO micro through libsumo (the closed-loop benchmark's cross-check):
the reference arterial (1 h) with the optimiser's plans, fixed time against actuated, one seed."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.sumo, pytest.mark.slow]


def test_actuated_plans_run_in_sumo_and_cut_time_loss(ref_sumo):
    pytest.importorskip("libsumo", reason="libsumo is not installed (pip install libsumo, the 'sumo' extra)")
    from benchmarks._closed_loop_libsumo import run_in_sumo
    from signal_control.coordinated_actuated import ActuatedParams
    from signal_control.optimize import optimize
    from signal_control.params import SUMO_MICRO
    from traffic.scenario_io import load_scenario

    scenario = load_scenario("arterial")
    plans = dict(optimize(scenario, "delay", webster=SUMO_MICRO, name="opt").plans)
    net, routes = ref_sumo / "arterial.net.xml", ref_sumo / "arterial.rou.xml"
    fixed = run_in_sumo(scenario, plans, net, routes, seed=1)
    actuated = run_in_sumo(scenario, plans, net, routes, seed=1, actuated=ActuatedParams())
    assert actuated["arrived"] == fixed["arrived"] > 2000, "every vehicle of the hour arrives in both"
    assert actuated["mean_time_loss_s"] < fixed["mean_time_loss_s"]
