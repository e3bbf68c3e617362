"""One registry of controller names (``signal_control.registry``): every name resolves to one class that does
what its entry declares, one name means one class everywhere, and the command line offers the registry's names."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from signal_control import registry
from signal_control.registry import CONTROLLERS, UnknownControllerError


def _subcommand(name: str) -> argparse.ArgumentParser:
    from greenwave.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _choices(command: str, option: str = "--controller") -> tuple[str, ...]:
    action = next(a for a in _subcommand(command)._actions if option in a.option_strings)
    return tuple(action.choices or ())


def test_names_are_unique_and_fixed_runs_no_controller() -> None:
    names = [e.name for e in CONTROLLERS]
    assert len(names) == len(set(names))
    assert registry.get("fixed").load() is None and not registry.get("fixed").capabilities


@pytest.mark.parametrize("entry", [e for e in CONTROLLERS if e.capabilities], ids=lambda e: e.name)
def test_every_name_resolves_to_a_class_that_does_what_its_entry_declares(entry: registry.ControllerEntry) -> None:
    cls = entry.load()
    assert isinstance(cls, type), entry.name
    assert callable(getattr(cls, "decide", None)) == entry.strategic, "strategic: counts -> plans (decide)"
    assert callable(getattr(cls, "choose", None)) == entry.tactical, "tactical: observations -> stages (choose)"
    assert (getattr(cls, "follows_plans", False) is True) == entry.follows_plans
    if entry.follows_plans:
        assert callable(getattr(cls, "attach", None))


def test_adaptive_names_one_class_everywhere() -> None:
    from signal_control.adaptive import AdaptiveController
    from signal_control.adaptive_stage import AdaptiveStageController
    from simulation.sumo_control import controller_factory

    assert registry.get("adaptive").load() is AdaptiveController
    assert registry.get("adaptive-stage").load() is AdaptiveStageController
    assert controller_factory("adaptive-stage") is AdaptiveStageController
    assert controller_factory("fixed") is None
    with pytest.raises(UnknownControllerError, match=r"'adaptive' .*strategic.* cannot be used here"):
        controller_factory("adaptive")  # SUMO runs stage controllers here: the plan controller is refused
    with pytest.raises(UnknownControllerError,
                       match=r"unknown controller 'nope'; choose from fixed, adaptive, max-pressure"):
        registry.get("nope")


def test_each_command_offers_the_registry_names() -> None:
    from simulation import cli as simulate_cli
    from simulation import sumo_cli

    assert _choices("simulate") == registry.names(lacking=("follows_plans",), with_fixed=True) \
        == simulate_cli.CONTROLLERS == ("fixed", "adaptive", "max-pressure", "adaptive-stage")
    assert _choices("sumo-control") == registry.names(having=("tactical",), lacking=("follows_plans",),
                                                      with_fixed=True) \
        == sumo_cli.STAGE_CONTROLLERS == ("fixed", "max-pressure", "adaptive-stage")


def test_sumo_control_refuses_the_plan_controller_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from greenwave.cli.main import main

    assert main(["sumo-control", "run.sumocfg", "--controller", "adaptive"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--controller" in err and "adaptive-stage" in err


def test_the_demo_runs_stage_controllers_by_their_registry_names() -> None:
    from greenwave.demo.runs import run_stage
    from traffic.scenario_io import load_scenario

    scenario = load_scenario("isolated_x080")
    with pytest.raises(UnknownControllerError, match="'adaptive'"):
        run_stage(scenario, "adaptive", seed=1, duration_s=60.0)
    run = run_stage(scenario, "max-pressure", seed=1, duration_s=120.0)
    assert run.kind == "max-pressure" and run.metrics["inserted"] > 0


def test_the_registry_imports_no_controller_nor_heavy_library() -> None:
    probe = ("import sys, json, signal_control.registry as r\n"
             "r.names(); r.get('adaptive')\n"
             "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
             "{'numpy', 'numba', 'simpy', 'networkx', 'pydantic', 'scipy'} or k.startswith('signal_control.'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["signal_control.registry"]


def test_entries_refuse_inconsistent_capabilities() -> None:
    with pytest.raises(ValueError, match="tactical capability"):
        registry.ControllerEntry("x", frozenset({"follows_plans"}), "m:C", "")
    with pytest.raises(ValueError, match="needs a class"):
        registry.ControllerEntry("x", frozenset({"strategic"}), None, "")
