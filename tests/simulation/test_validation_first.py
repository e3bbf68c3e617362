"""Every path that runs a plan validates it first: a scenario whose own plan has conflicting protected
greens is refused by the simulator's core (``Simulation``, ``simulate``, ``simulate_seeds``), by
``greenwave simulate``, ``sweep``, ``demo`` and ``sumo-control``, and an API job fails with the reasons
instead of running. Stage sets and controllers' plans are checked the same way."""

from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest

from greenwave.cli.main import main
from simulation.engine import Simulation
from simulation.runner import simulate, simulate_seeds
from simulation.stage_control import StageControlSpec
from simulation.sweep import PlanVariant, run_sweep
from tests.factories import mid
from traffic.errors import PlanValidationError
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario, save_scenario
from traffic.stages import Stage, StageSet, stage_sets

# the side street's through, protected during the arterial's protected green at I1
SIDE_THROUGH = "N1_I1>I1_S1"


def conflicting(name: str = "arterial_timevarying") -> Scenario:
    """The scenario with its first signal's active plan showing a side-street through G in the main phase."""
    sc = load_scenario(name)
    iid = next(iter(sc.intersections))
    plan = sc.active_plan(iid)
    side = SIDE_THROUGH if iid == "I1" else sorted(plan.phases[1].protected)[0]
    main_phase = plan.phases[0]
    bad = replace(plan, phases=(replace(main_phase, protected=main_phase.protected | {side}), *plan.phases[1:]))
    return replace(sc, plans={**sc.plans, iid: {**sc.plans[iid], plan.name: bad}})


@pytest.fixture
def unsafe_file(tmp_path) -> Path:
    path = tmp_path / "unsafe.json"
    save_scenario(conflicting(), path)
    return path


def assert_refused(err: str) -> None:
    """Exit-2 output of an unsafe plan: a header, then one line per reason, naming the plan, phase, movements
    (after any progress line the command printed before it knew)."""
    lines = err.splitlines()
    lines = lines[next((k for k, line in enumerate(lines) if line.startswith("greenwave: unsafe plan")), 0):]
    header = re.fullmatch(r"greenwave: unsafe plan \((\d+) problems?\):", lines[0])
    assert header, err
    assert len(lines) == 1 + int(header.group(1)) and all(line.startswith("  - ") for line in lines[1:]), err
    assert any("phase 0 'MAIN_green'" in line and repr(SIDE_THROUGH) in line and "both protected" in line
               for line in lines), err
    assert "Traceback" not in err


# --- the simulator's core ----------------------------------------------------------------------

def test_the_simulator_refuses_an_unsafe_active_plan():
    sc = conflicting()
    with pytest.raises(PlanValidationError) as err:
        Simulation(sc, 1, duration_s=60.0)
    assert any(repr(SIDE_THROUGH) in i and "both protected" in i for i in err.value.issues)
    with pytest.raises(PlanValidationError):
        simulate(sc, 1, duration_s=60.0)


def test_parallel_seeds_are_refused_before_any_process_starts():
    with pytest.raises(PlanValidationError) as err:
        simulate_seeds(conflicting(), [1, 2], duration_s=60.0, jobs=2)
    assert any(repr(SIDE_THROUGH) in i for i in err.value.issues)


def test_a_plan_error_crosses_process_boundaries_with_its_issues():
    issues = ["plan 'p' of 'C': phase 0: a", "plan 'p' of 'C': phase 1: b"]
    back = pickle.loads(pickle.dumps(PlanValidationError(issues)))
    assert isinstance(back, PlanValidationError) and back.issues == issues


def test_the_conflict_monitor_holds_even_for_lab_plans(cross):
    """``rules=None`` lets lane-model experiments run incomplete plans, never conflicting greens."""
    plan = cross.active_plan("C")
    phase = plan.phases[0]
    lab = replace(plan, phases=(replace(phase, yellow_s=0.0), *plan.phases[1:]))
    Simulation(replace(cross, plans={"C": {plan.name: lab}}), 1, duration_s=60.0, rules=None)
    bad = replace(plan, phases=(replace(phase, protected=phase.protected | {mid("E", "s")}), *plan.phases[1:]))
    with pytest.raises(PlanValidationError, match="both protected"):
        Simulation(replace(cross, plans={"C": {plan.name: bad}}), 1, duration_s=60.0, rules=None)


class _Hold:
    """A stage controller that never asks for a change."""

    def choose(self, now_s, observations):
        return {}


def test_stage_control_refuses_an_unsafe_stage_set(cross):
    inter = cross.intersections["C"]
    good = stage_sets(list(cross.active_plan_set().values()), dict(cross.intersections))["C"]
    clash = Stage("NS_and_E", good.stages[0].protected | {mid("E", "s")}, frozenset())
    bad = StageSet(inter, (clash, *good.stages[1:]), good.yellow_s, good.all_red_s, good.min_green_s)
    with pytest.raises(PlanValidationError) as err:
        Simulation(cross, 1, duration_s=60.0, stage_control=StageControlSpec(_Hold(), {"C": bad}))
    assert any("stage 0 (NS_and_E)" in i and repr(mid("E", "s")) in i and "both protected" in i
               for i in err.value.issues), err.value.issues
    with pytest.raises(PlanValidationError, match="both protected"):
        Simulation(cross, 1, duration_s=60.0, rules=None, stage_control=StageControlSpec(_Hold(), {"C": bad}))


# --- every command and the API -----------------------------------------------------------------

def test_simulate_cli_exits_2_with_one_line_per_reason(unsafe_file, capsys):
    assert main(["simulate", str(unsafe_file), "--duration-s", "60"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_refused(captured.err)


def test_sweep_refuses_before_submitting_a_task():
    class NoCluster:
        def submit(self, *args, **kwargs):
            raise AssertionError("a task was submitted")

    with pytest.raises(PlanValidationError, match="both protected"):
        run_sweep(NoCluster(), [PlanVariant("own", conflicting())], [1.0], [1], duration_s=60.0)


@pytest.mark.slow
def test_sweep_cli_exits_2(unsafe_file, capsys):
    pytest.importorskip("distributed", reason="needs the 'dask' extra")
    assert main(["sweep", str(unsafe_file), "--seeds", "1", "--duration-s", "60", "--workers", "1"]) == 2
    assert_refused(capsys.readouterr().err)


def test_demo_exits_2_before_running_and_writes_nothing(unsafe_file, tmp_path, capsys):
    out = tmp_path / "demo-out"
    assert main(["demo", str(unsafe_file), "--seeds", "1", "--duration-s", "600", "--jobs", "1",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert_refused(err)
    assert "'best_fixed'" not in err, "refused on the scenario's own plan, before the optimiser runs"
    assert not out.exists()


def test_api_simulation_job_fails_with_the_reasons_instead_of_running(unsafe_file, tmp_path):
    from api.db import Job
    from api.jobs import run_job
    from tests.api.conftest import FakeClock, fresh_db_url, start_api

    db_url = fresh_db_url("sqlite", tmp_path)
    gen = start_api(db_url, FakeClock(), scenario=str(unsafe_file))
    api = next(gen)
    try:
        eng = api.as_("engineer")
        r = api.client.post("/api/v1/jobs/simulation", json={"seeds": 1, "duration_s": 60}, headers=eng)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        with api.ctx.sessions() as db:  # claimed, as the runner does before handing it to a worker
            db.get(Job, job_id).status = "running"
            db.commit()
        run_job(db_url, str(unsafe_file), job_id)  # what the worker process runs
        job = api.client.get(f"/api/v1/jobs/{job_id}", headers=eng).json()
        assert job["status"] == "failed", job
        assert job["error"].startswith("PlanValidationError: ") and repr(SIDE_THROUGH) in job["error"]
        assert "both protected" in job["error"]
        assert api.client.get(f"/api/v1/jobs/{job_id}/result", headers=eng).status_code != 200
    finally:
        gen.close()


def unsafe_sumo_config(ref_sumo: Path, folder: Path) -> Path:
    """The isolated SUMO net with its NS_through phase also showing the E-W throughs G."""
    net = (ref_sumo / "isolated.net.xml").read_text()
    for old, new in (('state="GGrrrrGGrrrr" name="NS_through"', 'state="GGrGGrGGrGGr" name="NS_through"'),
                     ('state="yyrrrryyrrrr" name="y1"', 'state="yyryyryyryyr" name="y1"')):
        assert net.count(old) == 1
        net = net.replace(old, new)
    (folder / "isolated.net.xml").write_text(net)
    (folder / "isolated_x080.rou.xml").write_text((ref_sumo / "isolated_x080.rou.xml").read_text())
    config = folder / "unsafe.sumocfg"
    config.write_text('<configuration><input><net-file value="isolated.net.xml"/>'
                      '<route-files value="isolated_x080.rou.xml"/></input>'
                      '<time><begin value="0"/><end value="600"/></time></configuration>\n')
    return config


@pytest.mark.parametrize("controller", ["fixed", "adaptive-stage"])
def test_sumo_control_refuses_unsafe_programs_before_sumo_starts(ref_sumo, tmp_path, controller):
    pytest.importorskip("sumolib", reason="SUMO import needs sumolib")
    from simulation.sumo_control import run_config

    config = unsafe_sumo_config(ref_sumo, tmp_path)
    with pytest.raises(PlanValidationError) as err:
        run_config(config, controller, 1)
    assert any("'E_C>C_W'" in i and "'N_C>C_S'" in i and "both protected" in i for i in err.value.issues)
    assert not list(tmp_path.glob("*.xml.*")), "nothing written beside the config"


@pytest.mark.sumo
def test_sumo_control_cli_exits_2(ref_sumo, tmp_path, capsys):
    pytest.importorskip("libsumo", reason="libsumo is not installed (the 'sumo' extra)")
    config = unsafe_sumo_config(ref_sumo, tmp_path)
    assert main(["sumo-control", str(config), "--controller", "fixed"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("greenwave: unsafe plan (") and "both protected" in err and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 + int(re.search(r"\((\d+) problem", lines[0]).group(1))
