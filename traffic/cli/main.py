"""Entry point of the ``greenwave`` console script.

Every subcommand module exposes ``register(subparsers)``; user errors (``TrafficError``) end as
one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from traffic.errors import PlanValidationError, TrafficError

# Subcommand modules, each with ``register(subparsers)``. Modules outside ``traffic`` (simulation,
# signal_control, detection, api) are listed by name and imported when the parser is built, so
# ``traffic`` has no import-time dependency on them; each module keeps its heavy imports inside
# its command functions so ``greenwave --help`` stays fast.
COMMAND_MODULES = [
    "traffic.cli.scenario_cmd",
    "traffic.cli.plan_cmd",
    "simulation.cli",
    "simulation.sumo_cli",
    "simulation.sweep_cli",
    "signal_control.cli",
    "signal_control.demo.cli",
    "detection.cli",
    "detection.fleet_cli",
    "api.cli",
]

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage stays available through --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="greenwave", description="Greenwave: adaptive traffic signal control and simulation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PlanValidationError as exc:
        print(f"greenwave: unsafe plan ({len(exc.issues)} problem{'s' if len(exc.issues) != 1 else ''}):",
              file=sys.stderr)
        for issue in exc.issues:
            print(f"  - {issue}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TrafficError as exc:
        print(f"greenwave: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into head or similar: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
