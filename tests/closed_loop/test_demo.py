"""``greenwave demo`` on a short horizon: the three controllers run, the JSON has the promised shape,
the report files exist, and no unsafe plan is ever produced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenwave.cli.main import main
from greenwave.demo.core import DemoConfig, run_demo
from greenwave.demo.output import summary, write_report


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory):
    result = run_demo(DemoConfig(seeds=(1,), duration_s=1800.0, jobs=1))
    write_report(result, tmp_path_factory.mktemp("demo"))
    return result


def test_demo_json_has_the_three_controllers_with_simulate_metric_keys(short_demo):
    from simulation.metrics import TRIP_METRICS

    out = summary(short_demo)
    for kind in ("adaptive", "best_fixed", "fixed"):
        assert set(TRIP_METRICS) <= set(out[kind]), kind
        assert out[kind]["arrived"] > 0
    assert Path(out["report"]).is_file() and out["report"].endswith(".html")
    assert out["unsafe_plans"] == 0 and out["plans_checked"] > 0


def test_demo_report_files_and_ranking(short_demo):
    names = {f.name for f in short_demo.files}
    assert {"delay_over_time.png", "report.html", "summary.json", "time_space_final.png"} <= names
    assert all(f.stat().st_size > 0 for f in short_demo.files)
    # the scenario's 90-s plan is far worse than either optimised control at this demand (about 2x)
    fixed = short_demo.metrics("fixed")["mean_time_loss_s"]
    assert short_demo.metrics("best_fixed")["mean_time_loss_s"] < 0.7 * fixed
    assert short_demo.metrics("adaptive")["mean_time_loss_s"] < 0.7 * fixed
    # actuated side stages (gap-out, early return) beat the same optimiser's fixed-time plan: 36.1 vs 39.1 s
    # (24.5 vs 30.1 s before pedestrian minimums: a side stage that serves a crossing can no longer gap out
    # before its crossing's 17.7-s walk + clearance, so actuation saves less; benchmarks/RESULTS.md)
    best = short_demo.metrics("best_fixed")["mean_time_loss_s"]
    assert short_demo.metrics("adaptive")["mean_time_loss_s"] < 0.95 * best
    assert len(short_demo.series("adaptive")) == 2  # two 15-min bins in 30 min


def test_demo_cli_json(tmp_path, capsys):
    rc = main(["demo", "--duration-s", "900", "--seeds", "1", "--jobs", "1", "--json", "--out", str(tmp_path)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert {"adaptive", "best_fixed", "fixed", "report"} <= set(out)
    assert out["report"] == str(tmp_path / "report.html")
    assert "mean_time_loss_s" in out["adaptive"]


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--hours", "1", "--duration-s", "60"], ["--duration-s", "-5"],
                                  ["--video", "clip.mp4"]],
                         ids=["no seeds", "two durations", "negative duration", "video without camera config"])
def test_demo_cli_rejects_bad_arguments(argv, capsys):
    assert main(["demo", *argv]) == 2
    assert capsys.readouterr().err.startswith("greenwave: error:")


def test_demo_no_actuated_runs_the_adaptive_plans_as_fixed_time(tmp_path, capsys):
    argv = ["demo", "--duration-s", "900", "--seeds", "1", "--jobs", "1", "--json", "--out", str(tmp_path)]
    assert main(argv) == 0
    actuated = json.loads(capsys.readouterr().out)
    assert main([*argv, "--no-actuated"]) == 0
    plans_only = json.loads(capsys.readouterr().out)
    assert plans_only["best_fixed"] == actuated["best_fixed"], "the fixed plans do not change"
    assert plans_only["adaptive"]["mean_time_loss_s"] != actuated["adaptive"]["mean_time_loss_s"]
