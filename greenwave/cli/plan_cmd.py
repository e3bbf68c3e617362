"""``greenwave plan``: safety-check signal plans and export them to SUMO."""

from __future__ import annotations

import argparse

from greenwave.cli.common import (
    add_plan_arg,
    add_rule_args,
    add_scenario_arg,
    output_file,
    rules_from,
    scenario_with_plan,
)
from traffic.errors import PlanValidationError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="check signal plans and export them to SUMO",
                       description="Safety-check signal plans; export them as SUMO tlLogic programs.")
    s = p.add_subparsers(dest="plan_command", metavar="ACTION")
    s.required = True

    check = s.add_parser("check", help="validate plans (exit 0 when safe, 2 with the reasons when not)",
                         description="Validate the active plans (or those of --plan) against the safety rules: "
                                     "conflicting movements green together, minimum green, yellow and all-red, "
                                     "phases summing to the cycle, movements that never get green.")
    add_scenario_arg(check)
    add_plan_arg(check)
    add_rule_args(check)
    check.set_defaults(func=_check)

    export = s.add_parser("export-sumo", help="write plans as a SUMO additional file",
                          description="Write the active plans (or those of --plan) as static tlLogic programs "
                                      "that SUMO loads with -a. Unsafe plans are refused.")
    add_scenario_arg(export)
    add_plan_arg(export)
    add_rule_args(export)
    export.add_argument("-o", "--output", required=True, type=output_file(), metavar="TLS.add.xml",
                        help="output file (its folder must exist)")
    export.add_argument("--program-id", default="greenwave",
                        help="programID of the written programs (default %(default)s); it must differ from the "
                             "net's own programs, which SUMO will not let an additional file redefine")
    export.set_defaults(func=_export)


def _check(args: argparse.Namespace) -> int:
    from traffic.scenario_io import load_plan_file, load_scenario

    rules = rules_from(args)
    scenario = load_scenario(args.scenario)
    if args.plan is not None and args.plan.endswith(".json"):
        plans = {**scenario.active_plan_set(), **load_plan_file(args.plan, scenario)}
    else:
        plans = (scenario.select_plan(args.plan) if args.plan else scenario).active_plan_set()
    from traffic.plan_validation import validate_plan

    issues = [issue for iid, plan in plans.items() for issue in validate_plan(plan, scenario.intersections[iid], rules)]
    if issues:
        raise PlanValidationError(issues)
    print(f"ok: {len(plans)} plan(s) safe ({', '.join(sorted({p.name for p in plans.values()}))})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from traffic.sumo import write_tls_additional

    rules = rules_from(args)
    scenario = scenario_with_plan(args, rules)
    issues = scenario.validate_active_plans(rules)
    if issues:
        raise PlanValidationError(issues)
    plans = scenario.active_plan_set()
    write_tls_additional(plans.values(), dict(scenario.intersections), args.output, program_id=args.program_id)
    print(f"wrote {args.output}: {len(plans)} tlLogic program(s)")
    return 0
