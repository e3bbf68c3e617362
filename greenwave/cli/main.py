"""Entry point of the ``greenwave`` console script.

Every subcommand module exposes ``register(subparsers)``; user errors (``TrafficError``) end as
one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from greenwave.cli.common import BadValue
from traffic.errors import PlanValidationError, TrafficError

# Subcommand modules, each with ``register(subparsers)``, listed by name and imported when the parser is
# built; each keeps its heavy imports inside its command functions so ``greenwave --help`` stays fast. The
# entry point lives in the wiring room (``greenwave``), never in a domain package.
COMMAND_MODULES = [
    "greenwave.cli.scenario_cmd",
    "greenwave.cli.plan_cmd",
    "simulation.cli",
    "simulation.sumo_cli",
    "simulation.sweep_cli",
    "signal_control.cli",
    "greenwave.demo.cli",
    "detection.cli",
    "detection.fleet_cli",
    "api.cli",
]

EXIT_USER_ERROR = 2


class ArgumentValueError(TrafficError):
    """A command-line value out of its stated range (or a file that cannot be written), found while parsing."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage stays available through --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        """A value the argument types of ``greenwave.cli.common`` refuse becomes an ``ArgumentValueError`` naming
        the option (``--seeds must be >= 1 ...``), reported as every other user error."""
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as exc:
            if not isinstance(exc.__context__, BadValue):
                raise
            name = max(action.option_strings, key=len) if action.option_strings else (action.metavar or action.dest)
            reason = str(exc.__context__)
            raise ArgumentValueError(f"{name} {reason}" if reason.startswith("must ") else f"{name}: {reason}") \
                from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="greenwave", description="Greenwave: adaptive traffic signal control and simulation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
    except OSError as exc:
        if exc.filename is None:  # not about a file the user named: a bug or the system, keep the traceback
            raise
        # a file the user named cannot be read or written (permissions, full disk, a folder in its place)
        print(f"greenwave: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
