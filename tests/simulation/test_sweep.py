"""``greenwave sweep``: demand scaling, confidence intervals, Dask results equal to sequential runs, a worker
killed mid-sweep, retries, and the CLI's contract."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from greenwave.cli.main import main
from simulation.runner import simulate
from simulation.sweep import PlanVariant, RunResult, SweepCase, run_case, run_sweep, scale_demand
from simulation.sweep_stats import mean_ci95, summarise, t_quantile_975
from traffic.demand import Trip
from traffic.errors import ScenarioError
from traffic.scenario_io import load_scenario

DURATION_S = 300.0  # 5 simulated minutes: tens of milliseconds per run


@functools.cache
def arterial():
    return load_scenario("arterial")


def variants() -> list[PlanVariant]:
    return [PlanVariant(p, arterial().select_plan(p)) for p in ("zero", "greenwave")]


def same_metrics(a: dict, b: dict) -> bool:
    """Equal figure by figure (NaN equals NaN: a figure with no vehicle)."""
    return a.keys() == b.keys() and all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in ((a[k], b[k]) for k in a))


def reference(case: SweepCase) -> dict:
    """The same run with the simulator's own entry point, outside the sweep code."""
    sc = arterial().select_plan(case.plan)
    sc = replace(sc, demand=sc.demand.scaled(case.demand_scale))
    return simulate(sc, case.seed, duration_s=DURATION_S).metrics


# --- demand scaling and statistics (no Dask) ----------------------------------------------------


def test_scale_demand_multiplies_every_flow_and_keeps_the_rest():
    sc = arterial()
    scaled = scale_demand(sc, 1.25)
    assert scaled.demand.expected_vehicles() == pytest.approx(1.25 * sc.demand.expected_vehicles())
    for a, b in zip(sc.demand.flows, scaled.demand.flows, strict=True):
        assert [s.flow_veh_h * 1.25 for s in a.slices] == pytest.approx([s.flow_veh_h for s in b.slices])
        assert (a.id, a.route, a.arrivals) == (b.id, b.route, b.arrivals)
    assert scaled.active_plans == sc.active_plans and scaled.network is sc.network
    assert scale_demand(sc, 1.0) is sc, "scale 1 is the scenario itself"


def test_more_demand_means_more_vehicles_in_the_simulator():
    sc = arterial()
    low, high = (simulate(scale_demand(sc, x), 1, duration_s=900).metrics["inserted"] for x in (0.5, 1.5))
    assert high > 2.5 * low  # 3x the flow; Poisson noise and capacity keep it from exactly 3x


@pytest.mark.parametrize(("factor", "rule"), [
    (0.0, "zero demand has no metrics"), (-1.0, "negative"), (math.nan, "not a number"), (math.inf, "infinite")])
def test_scale_demand_rejects_bad_factors(factor, rule):
    with pytest.raises(ScenarioError, match="must be a positive number"):
        scale_demand(arterial(), factor)


def test_scale_demand_refuses_single_trips():
    sc = arterial()
    route = next(iter(sc.demand.routes))
    with_trip = replace(sc, demand=replace(sc.demand, trips=(Trip("t1", 10.0, route=route),)))
    assert scale_demand(with_trip, 1.0) is with_trip
    with pytest.raises(ScenarioError, match="1 single trips, which cannot be scaled"):
        scale_demand(with_trip, 1.2)


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in [*range(1, 40), 50, 100, 1000, 10**6]:
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-6), df


def test_mean_ci95_matches_scipy_and_skips_nan():
    stats = pytest.importorskip("scipy.stats")
    x = np.array([52.1, 49.8, 55.0, 47.3, 51.6, math.nan])
    mean, low, high, n = mean_ci95(x)
    finite = x[:5]
    want = stats.t.interval(0.95, 4, loc=finite.mean(), scale=stats.sem(finite))
    assert n == 5 and mean == pytest.approx(finite.mean()) and (low, high) == pytest.approx(want)
    one = mean_ci95(np.array([3.0]))
    assert one[0] == 3.0 and math.isnan(one[1]) and math.isnan(one[2]) and one[3] == 1


def test_summary_groups_by_plan_and_level():
    results = {}
    for plan, scale, seed, loss in [("a", 1.0, 1, 10.0), ("a", 1.0, 2, 14.0), ("a", 1.2, 1, 20.0),
                                    ("a", 1.2, 2, 20.0), ("b", 1.0, 1, 5.0), ("b", 1.0, 2, 7.0)]:
        case = SweepCase(plan, scale, seed)
        results[case] = RunResult(case, {"mean_time_loss_s": loss, "arrived": 100 + seed}, {}, 0.0)
    rows = summarise(results)
    assert [(r.plan, r.demand_scale, r.seeds) for r in rows] == [("a", 1.0, (1, 2)), ("a", 1.2, (1, 2)),
                                                                  ("b", 1.0, (1, 2))]
    loss = rows[0].metrics["mean_time_loss_s"]
    assert loss.mean == 12.0 and loss.half_width == pytest.approx(12.706204736 * math.sqrt(8) / math.sqrt(2))
    assert rows[1].metrics["mean_time_loss_s"].half_width == 0.0  # identical runs: no spread
    assert rows[2].metrics["arrived"].mean == 101.5


# --- on Dask ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_client():
    """Two single-threaded worker processes, as ``greenwave sweep --workers 2`` starts them."""
    distributed = pytest.importorskip("distributed", reason="needs the 'dask' extra (pip install 'greenwave[dask]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        yield client


def test_sweep_equals_sequential_runs_of_the_same_seeds(cluster_client):
    seen = []
    results = run_sweep(cluster_client, variants(), [0.8, 1.2], range(1, 4), duration_s=DURATION_S,
                        progress=seen.append)
    cases = [SweepCase(p, x, s) for p in ("zero", "greenwave") for x in (0.8, 1.2) for s in (1, 2, 3)]
    assert list(results) == cases, "every case once, in plan, scale, seed order"
    assert sorted(r.case for r in seen) == sorted(cases), "progress once per case"
    for case, result in results.items():
        assert result.case == case and same_metrics(result.metrics, reference(case)), case
    assert results[cases[0]].metrics != results[cases[1]].metrics, "seeds differ"


def kill_worker_once(marker_dir: Path, doomed: set[SweepCase], scenario, case, duration_s, params) -> RunResult:
    """A sweep task that SIGKILLs its own worker process the first time it runs one of ``doomed``;
    every execution is logged, one line per attempt."""
    with (marker_dir / "executions.log").open("a") as log:
        log.write(f"{case.plan} {case.demand_scale} {case.seed} {os.getpid()}\n")
    marker = marker_dir / f"killed-{case.plan}-{case.demand_scale}-{case.seed}"
    if case in doomed and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return run_case(scenario, case, duration_s, params)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(cluster_client, tmp_path):
    doomed = {SweepCase("zero", 1.0, 3), SweepCase("greenwave", 1.2, 2)}
    task = functools.partial(kill_worker_once, tmp_path, doomed)
    results = run_sweep(cluster_client, variants(), [1.0, 1.2], range(1, 5), duration_s=DURATION_S, task=task)
    executions = [tuple(line.split()) for line in (tmp_path / "executions.log").read_text().splitlines()]
    runs_of = {c: sum(1 for e in executions if e[:3] == (c.plan, str(c.demand_scale), str(c.seed))) for c in results}
    assert all((tmp_path / f"killed-{c.plan}-{c.demand_scale}-{c.seed}").exists() for c in doomed)
    assert all(runs_of[c] >= 2 for c in doomed), "the killed tasks ran again on a live worker"
    assert len({e[3] for e in executions}) >= 3, "the killed workers were replaced by new processes"
    assert len(results) == 16 and set(results) == {SweepCase(p, x, s) for p in ("zero", "greenwave")
                                                   for x in (1.0, 1.2) for s in range(1, 5)}
    for case, result in results.items():
        assert result.case == case and same_metrics(result.metrics, reference(case)), case


def fail_once(marker_dir: Path, scenario, case, duration_s, params) -> RunResult:
    """Raises a transient error on a case's first attempt."""
    marker = marker_dir / f"failed-{case.plan}-{case.demand_scale}-{case.seed}"
    if not marker.exists():
        marker.touch()
        raise OSError("transient failure (test)")
    return run_case(scenario, case, duration_s, params)


def always_fails(scenario, case, duration_s, params) -> RunResult:
    raise ScenarioError(f"broken case {case.seed}")


@pytest.fixture
def thread_client():
    distributed = pytest.importorskip("distributed", reason="needs the 'dask' extra (pip install 'greenwave[dask]')")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as client:
        yield client


def test_a_task_that_raised_is_retried_and_counted_once(thread_client, tmp_path):
    vs = variants()[:1]
    results = run_sweep(thread_client, vs, [1.0], range(1, 4), duration_s=DURATION_S, retries=1,
                        task=functools.partial(fail_once, tmp_path))
    assert len(list(tmp_path.glob("failed-*"))) == 3, "each task failed once"
    assert list(results) == [SweepCase("zero", 1.0, s) for s in (1, 2, 3)]
    assert all(same_metrics(r.metrics, reference(c)) for c, r in results.items())


def test_a_task_failing_beyond_its_retries_ends_the_sweep_with_its_error(thread_client):
    with pytest.raises(ScenarioError, match="broken case"):
        run_sweep(thread_client, variants()[:1], [1.0], range(1, 3), duration_s=DURATION_S, retries=0,
                  task=always_fails)


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_json_table_and_plot(tmp_path, capsys):
    pytest.importorskip("distributed", reason="needs the 'dask' extra")
    plot = tmp_path / "loss.png"
    assert main(["sweep", "arterial", "--plans", "zero", "greenwave", "--seeds", "3", "--demand-scale", "0.8,1.2",
                 "--duration-s", "300", "--workers", "2", "--plot", str(plot), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plans"] == ["zero", "greenwave"] and out["demand_scales"] == [0.8, 1.2] and out["seeds"] == [1, 2, 3]
    assert out["runs_total"] == 12 and len(out["runs"]) == 12 and out["workers"] == 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out["plot"] == str(plot)
    assert [(r["plan"], r["demand_scale"]) for r in out["summary"]] == [("zero", 0.8), ("zero", 1.2),
                                                                         ("greenwave", 0.8), ("greenwave", 1.2)]
    row = out["summary"][1]
    losses = [r["metrics"]["mean_time_loss_s"] for r in out["runs"] if (r["plan"], r["demand_scale"]) == ("zero", 1.2)]
    stat = row["metrics"]["mean_time_loss_s"]
    assert stat["n"] == 3 and stat["mean"] == pytest.approx(np.mean(losses))
    assert stat["ci95_low"] < stat["mean"] < stat["ci95_high"]
    assert losses == [reference(SweepCase("zero", 1.2, s))["mean_time_loss_s"] for s in (1, 2, 3)]


def test_cli_table_with_a_plan_file_and_the_default_plan(tmp_path, capsys):
    pytest.importorskip("distributed", reason="needs the 'dask' extra")
    from traffic.scenario_io import save_plan_file

    sc = arterial()
    plan_file = tmp_path / "wave.json"
    save_plan_file({i: sc.plans[i]["greenwave"] for i in sc.intersections}, plan_file)
    assert main(["sweep", "arterial", "--plans", str(plan_file), "--seeds", "2", "--duration-s", "300",
                 "--workers", "1"]) == 0
    table = capsys.readouterr().out
    assert "= 2 runs on 1 worker(s)" in table and "mean time loss s" in table and str(plan_file) in table
    assert main(["sweep", "isolated_x080", "--seeds", "1", "--duration-s", "300", "--workers", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plans"] == ["0"] and out["summary"][0]["metrics"]["mean_time_loss_s"]["ci95_low"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--plans", "missing.json"], "cannot read plan file 'missing.json'"),
    (["--plans", "nosuchplan"], "has no plan named 'nosuchplan'"),
    (["--plans", "zero", "zero"], "a plan is given twice"),
    (["--demand-scale", "0.6,abc"], "'abc' is not a number"),
    (["--demand-scale", "0.6,0"], "'0' must be a positive number"),
    (["--demand-scale", "-1"], "'-1' must be a positive number"),
    (["--demand-scale", "1,1.0"], "1 is given twice"),
    (["--demand-scale", ""], "'' is not a number"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--duration-s", "nan"], "--duration-s must be > 0"),
    (["--plot", "no/such/folder/p.png"], "does not exist"),
    (["--plot", "p.jpg"], "expected a .png file name"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "arterial", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == [], "nothing written"


def test_cli_unreachable_scheduler_is_one_line(capsys):
    dask = pytest.importorskip("dask", reason="needs the 'dask' extra")
    pytest.importorskip("distributed", reason="needs the 'dask' extra")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["sweep", "arterial", "--seeds", "1", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler 'tcp://127.0.0.1:1': cannot connect" in err and err.count("\n") == 1
