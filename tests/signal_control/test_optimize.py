"""The optimiser's plans are safe, carry predictions, export to SUMO; user errors are clear."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from greenwave.cli.main import main
from signal_control.errors import OptimizerError
from signal_control.optimize import optimize
from signal_control.params import SUMO_MICRO
from traffic.plan_validation import validate_plan
from traffic.scenario_io import load_plan_file, load_scenario


@pytest.fixture(scope="module")
def arterial():
    return load_scenario("arterial")


@pytest.mark.parametrize("method", ["webster", "bandwidth", "delay"])
def test_every_plan_is_safe_and_predicted(arterial, method):
    r = optimize(arterial, method, webster=SUMO_MICRO)
    for iid, plan in r.plans.items():
        assert validate_plan(plan, arterial.intersections[iid]) == []
    s = r.summary()
    assert set(s["predicted_delay_s"]) == set(arterial.intersections)
    if method != "webster":
        assert len({p.cycle_s for p in r.plans.values()}) == 1  # one common cycle
        assert s["corridor"] == ["I1", "I2", "I3", "I4", "I5", "I6"]
        assert s["bandwidth"]["outbound_s"] + s["bandwidth"]["inbound_s"] > 0


def test_keep_splits_changes_offsets_only(arterial):
    r = optimize(arterial, "delay", keep_splits=True, webster=SUMO_MICRO)
    for iid, plan in r.plans.items():
        base = arterial.active_plan(iid)
        assert [p.green_s for p in plan.phases] == [p.green_s for p in base.phases]
        assert plan.cycle_s == base.cycle_s
    assert len({p.offset_s for p in r.plans.values()}) > 1


def test_isolated_webster_and_delay_plans_are_safe():
    sc = load_scenario("isolated_x080")
    for method in ("webster", "delay"):
        r = optimize(sc, method)
        assert validate_plan(r.plans["C"], sc.intersections["C"]) == []


def test_grid_plans_are_safe():
    sc = load_scenario("grid")
    r = optimize(sc, "bandwidth", webster=SUMO_MICRO)
    assert all(validate_plan(p, sc.intersections[i]) == [] for i, p in r.plans.items())


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"corridor": ["I1", "I9"]}, "unknown corridor node 'I9'"),
    ({"corridor": ["I1"]}, "two or more distinct signals"),
    ({"method": "fastest"}, "unknown method"),
    ({"counts": {"I1_I2>I2_I3": -1.0}}, "must be a finite number >= 0"),
    ({"counts": {}}, "no demand"),
])
def test_bad_inputs_give_clear_errors(arterial, kwargs, words):
    with pytest.raises(OptimizerError, match=words):
        optimize(arterial, **kwargs)


def test_cli_writes_plan_json_and_plot(tmp_path, capsys):
    plan, png = tmp_path / "plan.json", tmp_path / "tsd.png"
    assert main(["optimize", "arterial", "--method", "bandwidth", "--out", str(plan), "--plot", str(png),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted"]["bandwidth"]["outbound_pct"] >= 0
    assert len(out["plans"]) == 6
    sc = load_scenario("arterial")
    plans = load_plan_file(plan, sc)
    assert all(validate_plan(p, sc.intersections[i]) == [] for i, p in plans.items())
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_user_error_is_one_line_exit_2(capsys):
    assert main(["optimize", "arterial", "--corridor", "I1,NOPE"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown corridor node 'NOPE'" in err


@pytest.mark.sumo
def test_optimised_plans_load_in_sumo(arterial, tmp_path, ref_sumo, sumo):
    import subprocess

    from traffic.sumo import write_tls_additional

    r = optimize(arterial, "delay", webster=SUMO_MICRO)
    add = tmp_path / "opt.add.xml"
    write_tls_additional(r.plans.values(), dict(arterial.intersections), add, program_id="greenwave")
    proc = subprocess.run([sumo, "-n", str(ref_sumo / "arterial.net.xml"), "-a", str(add), "--end", "10",
                           "--no-step-log"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Error" not in proc.stderr


@pytest.mark.slow
@pytest.mark.sumo
def test_optimised_arterial_beats_sumo_tool_chain_in_sumo(arterial, tmp_path, ref_sumo, sumo):
    """3 seeds of SUMO micro (the benchmark runs 10): the optimised plan's all-vehicle time loss is
    below the 37.1 s that tlsCycleAdaptation -u + tlsCoordinator reach (sumo_tools/README.md).

    Like for like: SUMO's tools know no pedestrian minimum, so neither does the optimiser here. With
    pedestrian minimums (the default) the optimiser's plans give 41.6 s over 10 seeds (the tools'
    plans fail the minimums): benchmarks/RESULTS.md, "With pedestrian minimums"."""
    import statistics
    import subprocess
    import xml.etree.ElementTree as ET

    from traffic.sumo import write_tls_additional

    r = optimize(arterial, "delay", webster=replace(SUMO_MICRO, pedestrians=None))
    add = tmp_path / "opt.add.xml"
    write_tls_additional(r.plans.values(), dict(arterial.intersections), add, program_id="greenwave")
    means = []
    for seed in (1, 2, 3):
        trip = tmp_path / f"trip{seed}.xml"
        subprocess.run([sumo, "-n", str(ref_sumo / "arterial.net.xml"), "-r", str(ref_sumo / "arterial.rou.xml"),
                        "-a", str(add), "--step-length", "1", "--seed", str(seed), "--no-step-log",
                        "--tripinfo-output", str(trip)], check=True, capture_output=True)
        means.append(statistics.fmean(float(t.get("timeLoss")) for t in ET.parse(trip).getroot().iter("tripinfo")))
    assert statistics.fmean(means) < 37.1
