"""``greenwave --help`` stays fast: building the parser imports no heavy library (checked by module, not by clock),
and the values the CLI writes out to avoid those imports agree with their homes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("numpy", "networkx", "pydantic", "sqlalchemy", "matplotlib", "numba", "simpy", "fastapi", "torch", "cv2",
         "scipy", "dask", "ultralytics", "uvicorn")


def _heavy_modules_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"import json; print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in {set(HEAVY)!r})))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_building_the_parser_imports_no_heavy_library() -> None:
    assert _heavy_modules_after("import greenwave.cli.main as m; m.build_parser()") == []


def test_help_of_every_command_imports_no_heavy_library() -> None:
    code = ("import contextlib, io, greenwave.cli.main as m\n"
            "p = m.build_parser()\n"
            "for cmd in sorted(p._subparsers._group_actions[0].choices):\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        m.main([cmd, '--help'])")
    assert _heavy_modules_after(code) == []


def test_simulating_imports_no_graph_library() -> None:
    # the simulator needs no networkx graph: the road graph is built on first use (routing, the optimiser)
    code = ("import contextlib, io, greenwave.cli.main as m\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert m.main(['simulate', 'isolated_x080', '--duration-s', '60', '--json']) == 0")
    assert "networkx" not in {name.split(".")[0] for name in _heavy_modules_after(code)}


def test_other_values_written_out_in_the_cli_agree_with_their_homes(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.db_url
    import api.settings
    import detection.batching
    import detection.cli
    import detection.detector
    import detection.fleet_cli

    assert detection.cli.DEFAULT_MODEL == detection.detector.DEFAULT_MODEL
    assert detection.fleet_cli.MAX_BATCH_SIZE == detection.batching.MAX_BATCH_SIZE
    assert detection.fleet_cli.MAX_WAIT_LIMIT_MS == detection.batching.MAX_WAIT_LIMIT_MS
    monkeypatch.delenv(api.db_url.DB_ENV, raising=False)
    assert api.settings.Settings(scenario="arterial").db_url == api.db_url.default_db_url() == "sqlite:///greenwave.db"
    monkeypatch.setenv(api.db_url.DB_ENV, "sqlite:///elsewhere.db")
    assert api.settings.Settings(scenario="arterial").db_url == api.db_url.default_db_url() == "sqlite:///elsewhere.db"


def test_simulation_package_names_load_on_first_use() -> None:
    import simulation
    from simulation import DEFAULT_PARAMS, SimParams, Simulation, SimulationResult, simulate, simulate_seeds
    from simulation.engine import Simulation as EngineSimulation
    from simulation.params import DEFAULT_PARAMS as PARAMS
    from simulation.runner import simulate as run

    assert Simulation is EngineSimulation and DEFAULT_PARAMS is PARAMS and simulate is run
    assert isinstance(DEFAULT_PARAMS, SimParams) and callable(simulate_seeds) and SimulationResult is not None
    assert sorted(simulation.__all__) == sorted(["DEFAULT_PARAMS", "SimParams", "Simulation", "SimulationResult",
                                                 "simulate", "simulate_seeds"])
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        simulation.nothing_here  # noqa: B018
