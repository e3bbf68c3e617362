"""Greenwave's stage controllers driving SUMO's signals through libsumo (ingolstadt7, a short window)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from signal_control.adaptive_stage import AdaptiveStageController
from signal_control.max_pressure import MaxPressureController
from simulation.sumo_control import detector_layout, run_sumo
from traffic.signal_plan import Interval
from traffic.stages import stage_sets
from traffic.sumo import import_sumocfg

pytestmark = pytest.mark.sumo


@pytest.fixture
def libsumo():
    return pytest.importorskip("libsumo", reason="libsumo is not installed (pip install libsumo, the 'sumo' extra)")


@pytest.fixture
def ingolstadt(resco):
    scenario = import_sumocfg(resco / "ingolstadt7.sumocfg")
    return scenario, stage_sets(list(scenario.active_plan_set().values()), dict(scenario.intersections))


def test_detectors_cover_the_range_across_short_edges(ingolstadt):
    scenario, sets = ingolstadt
    layout = detector_layout(scenario, list(sets), range_m=100.0)
    # gneJ143's west approach is an 11-m edge fed by a 44-m edge through an unsignalised split:
    rows = layout.approach["gneJ143"]
    lanes = {det.lane for det, _ in rows}
    assert "10425609#1_1" in lanes and "10425609#0_1" in lanes
    # every movement's vehicles are fully shared out: shares of one approach lane sum to 1
    for det, shares in rows:
        if det.id.startswith("gw_in_"):
            assert sum(s for _, s in shares) == pytest.approx(1.0)
    assert all(0 < det.length_m <= 100.0 for det in layout.all())


@pytest.mark.parametrize("controller", [MaxPressureController, AdaptiveStageController])
def test_controller_in_the_loop_shows_only_safe_states(libsumo, resco, ingolstadt, controller):
    scenario, sets = ingolstadt
    short = replace(scenario, end_s=scenario.begin_s + 600.0)
    trace: list[tuple[float, str, str]] = []
    out = run_sumo(resco / "ingolstadt7.sumocfg", short, seed=1, controller_factory=controller, stage_sets=sets,
                   trace=trace, extra_args=["--end", str(short.end_s)])
    assert out["trips"] > 100 and out["resco_delay_s"] > 0
    assert out["control_steps"] == 120 and out["switches"] > 0
    for iid, ss in sets.items():
        n = len(ss.stages)
        greens = {ss.state(a, Interval.GREEN): a for a in range(n)}
        clearing = {ss.state(a, k, b) for a in range(n) for b in range(n) if a != b for k in (Interval.YELLOW,
                                                                                           Interval.ALL_RED)}
        shown = [(t, s) for t, i, s in trace if i == iid]
        assert shown, iid
        green_since = None
        for t, state in shown:
            assert state in greens or state in clearing, (iid, t, state)
            if state in greens:
                green_since = t
            elif green_since is not None:  # a green ended: it ran at least the minimum green
                assert t - green_since >= ss.min_green_s - 1e-9, (iid, t)
                green_since = None


def test_cli_runs_a_config_and_prints_the_metric(libsumo, resco, capsys):
    from greenwave.cli.main import main

    assert main(["sumo-control", str(resco / "ingolstadt7.sumocfg"), "--controller", "max-pressure", "--seed", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["controller"] == "max-pressure" and out["seeds"] == [3]
    run = out["runs"][0]
    assert run["trips"] > 2900 and run["resco_delay_s"] == pytest.approx(run["time_loss_s"] + run["depart_delay_s"])
    assert out["resco_delay_s"]["median"] == run["resco_delay_s"]


@pytest.mark.parametrize("argv, message", [
    (["missing.sumocfg"], "not found"),
    (["{cfg}", "--seeds", "0"], "--seeds must be >= 1"),
    (["{cfg}", "--control-step-s", "0"], "must be > 0"),
    (["{cfg}", "--sumo-home", "/nonexistent"], "has no tools/ folder"),
])
def test_cli_bad_input_is_one_line_and_exit_2(resco, capsys, argv, message):
    from greenwave.cli.main import main

    argv = [a.replace("{cfg}", str(resco / "ingolstadt7.sumocfg")) for a in argv]
    assert main(["sumo-control", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
