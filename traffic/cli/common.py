"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from traffic.plan_validation import ValidationRules
from traffic.scenario import Scenario
from traffic.scenario_io import load_plan_file, load_scenario


def add_scenario_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO",
                   help="scenario JSON file, or the name of a built-in scenario (see 'greenwave scenario list')")


def add_plan_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", metavar="PLAN", default=None,
                   help="a PLAN.json file (plans for some or all intersections; the rest keep the scenario's "
                        "active plan) or the name of a program stored in the scenario")


def add_rule_args(p: argparse.ArgumentParser) -> None:
    d = ValidationRules()
    p.add_argument("--min-green-s", type=float, default=d.min_green_s, help="minimum green (default %(default)s)")
    p.add_argument("--min-yellow-s", type=float, default=d.min_yellow_s, help="minimum yellow (default %(default)s)")
    p.add_argument("--min-all-red-s", type=float, default=d.min_all_red_s,
                   help="minimum all-red before a conflicting movement starts (default %(default)s)")
    p.add_argument("--max-cycle-s", type=float, default=d.max_cycle_s, help="maximum cycle (default %(default)s)")


def rules_from(args: argparse.Namespace) -> ValidationRules:
    return ValidationRules(min_green_s=args.min_green_s, min_yellow_s=args.min_yellow_s,
                           min_all_red_s=args.min_all_red_s, max_cycle_s=args.max_cycle_s)


def scenario_with_plan(args: argparse.Namespace, rules: ValidationRules | None = None) -> Scenario:
    """Load the scenario and make ``--plan`` (file or program name) active, validating a file's plans."""
    scenario = load_scenario(args.scenario)
    plan = getattr(args, "plan", None)
    if plan is None:
        return scenario
    if Path(plan).suffix == ".json" or Path(plan).exists():
        plans = load_plan_file(plan, scenario)
        return scenario.with_plans(plans, rules or ValidationRules())
    return scenario.select_plan(plan)
