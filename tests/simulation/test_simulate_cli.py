"""``greenwave simulate``: JSON contract, seeds and bad input."""

from __future__ import annotations

import json

import pytest

from greenwave.cli.main import main

KEYS = {"inserted", "arrived", "mean_travel_time_s", "mean_time_loss_s", "mean_waiting_time_s", "mean_stops",
        "vehicle_seconds"}


def test_simulate_json_single_seed(capsys):
    assert main(["simulate", "isolated_x050", "--json", "--seed", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "isolated_x050" and out["seeds"] == [5] and out["sd"] is None
    assert set(out["metrics"]) >= KEYS and out["wall_s"] > 0
    lg = out["lane_groups"][0]
    assert {"node", "approach", "movements", "flow_veh_h", "control_delay_s"} <= set(lg)
    assert out["metrics"]["arrived"] == out["metrics"]["inserted"] > 1000
    queues = lg["queue_veh"]  # sampled every 300 s until the network emptied
    assert len(queues) >= 12 and all(q >= 0 for q in queues) and max(queues) > 0


def test_simulate_seeds_mean_and_sd(capsys):
    assert main(["simulate", "arterial", "--plan", "greenwave", "--seeds", "3", "--jobs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [1, 2, 3] and out["plan"] == "greenwave"
    assert out["sd"]["metrics"]["mean_time_loss_s"] > 0
    eb = out["route_groups"]["EB_through"]
    assert {"n", "mean_travel_time_s", "mean_time_loss_s", "mean_stops"} <= set(eb)
    assert out["route_groups"]["EB_through"]["mean_time_loss_s"] < out["route_groups"]["WB_through"][
        "mean_time_loss_s"]  # the reference wave favours eastbound


def test_simulate_table(capsys):
    assert main(["simulate", "isolated_x050", "--duration-s", "600"]) == 0
    out = capsys.readouterr().out
    assert "mean time loss s" in out and "control delay s" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--plan", "nosuchplan"], "has no plan named 'nosuchplan'"),
    (["--duration-s", "-5"], "--duration-s must be > 0"),
])
def test_simulate_bad_input(args, message, capsys):
    assert main(["simulate", "isolated_x050", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_simulate_adaptive_controller(capsys):
    assert main(["simulate", "arterial_timevarying", "--controller", "adaptive", "--duration-s", "1800",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["controller"] == "adaptive" and out["controller_events"] == []
    assert out["metrics"]["inserted"] > 500
