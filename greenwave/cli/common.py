"""Argument helpers shared by subcommands.

The argument types here refuse a bad value while the command line is parsed, before any work starts
and before any file is written: the user sees one line (``greenwave CMD: error: argument --X: ...``)
and exit status 2.

Building the parser imports nothing heavier than argparse (``tests/traffic/test_cli_imports.py``): the
domain model (networkx, numpy, pydantic) is imported inside the functions that need it, and the safety
rules' defaults shown in ``--help`` come from ``traffic.safety_defaults``, which imports nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from traffic.errors import TrafficError
from traffic.safety_defaults import (
    DEFAULT_MAX_CYCLE_S,
    DEFAULT_MIN_ALL_RED_S,
    DEFAULT_MIN_GREEN_S,
    DEFAULT_MIN_YELLOW_S,
    HCM_WALK_S,
    HCM_WALKING_SPEED_M_S,
)

if TYPE_CHECKING:
    from traffic.plan_validation import ValidationRules
    from traffic.scenario import Scenario

MAX_SEEDS = 1000
"""Most seeds one command runs (``--seeds``)."""
MAX_DURATION_S = 7 * 86400.0
"""Longest simulated time (``--duration-s``): seven days."""
MAX_SEED = 2**31 - 1
"""Largest single seed (``--seed``)."""



def max_jobs() -> int:
    """Most worker processes one command starts (``--jobs``, ``--workers``): 64, or 4 per CPU core when more."""
    return max(64, 4 * (os.cpu_count() or 1))


class BadValue(argparse.ArgumentTypeError):
    """A value the types below refuse; the ``greenwave`` parser reports it as one line naming the option."""


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def float_in(lo: float, hi: float, *, lo_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); NaN and inf are refused."""
    low = f"> {_fmt(lo)}" if lo_open else f">= {_fmt(lo)}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise BadValue(f"must be a number {low} and <= {_fmt(hi)} (got {text!r})") from None
        if not (math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi):
            raise BadValue(f"must be {low} and <= {_fmt(hi)} (got {text!r})")
        return value

    parse.__name__ = "number"
    return parse


def positive_float(hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number ``> 0`` and ``<= hi``."""
    return float_in(0.0, hi, lo_open=True)


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``lo`` to ``hi``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise BadValue(f"must be a whole number >= {lo} and <= {hi} (got {text!r})") from None
        if not lo <= value <= hi:
            raise BadValue(f"must be >= {lo} and <= {hi} (got {value})")
        return value

    parse.__name__ = "integer"
    return parse


def seeds_arg(text: str) -> int:
    """``--seeds N``: 1..``MAX_SEEDS``."""
    return int_in(1, MAX_SEEDS)(text)


def seed_arg(text: str) -> int:
    """``--seed S``: 0..``MAX_SEED``."""
    return int_in(0, MAX_SEED)(text)


def jobs_arg(text: str) -> int:
    """``--jobs J`` / ``--workers K``: 1..``max_jobs()``."""
    return int_in(1, max_jobs())(text)


def duration_arg(text: str) -> float:
    """``--duration-s T``: a finite number of seconds, > 0 and at most ``MAX_DURATION_S``."""
    return positive_float(MAX_DURATION_S)(text)


def port_arg(text: str) -> int:
    """A TCP port, 1..65535."""
    return int_in(1, 65535)(text)


def _writable_folder_problem(folder: Path) -> str | None:
    real = folder.absolute()
    if not real.exists():
        return f"folder {str(folder)!r} does not exist"
    if not real.is_dir():
        return f"{str(folder)!r} is not a folder"
    if not os.access(real, os.W_OK | os.X_OK):
        return f"folder {str(folder)!r} is not writable"
    return None


def output_file(suffixes: tuple[str, ...] = ()) -> Callable[[str], str]:
    """An argparse type: a file to write. Its folder must exist and be writable, and the path must not be a
    folder (an existing file is replaced); with ``suffixes``, its name must end with one of them."""

    def parse(text: str) -> str:
        if not text.strip():
            raise BadValue("expected a file name (got an empty one)")
        path = Path(text)
        if suffixes and not text.lower().endswith(suffixes):
            raise BadValue(f"expected a {' or '.join(suffixes)} file name (got {text!r})")
        if path.is_dir() or text.endswith(("/", os.sep)):
            raise BadValue(f"{text!r} is a folder, not a file")
        problem = _writable_folder_problem(path.parent)
        if problem:
            raise BadValue(f"cannot write {text!r}: {problem}")
        return text

    parse.__name__ = "output file"
    return parse


def output_folder(text: str) -> str:
    """An argparse type: a folder to write files into. It may exist (as a folder, not a file); otherwise it is
    created later, in its nearest existing parent, which must be a writable folder."""
    if not text.strip():
        raise BadValue("expected a folder name (got an empty one)")
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            raise BadValue(f"{text!r} exists and is not a folder")
        problem = _writable_folder_problem(path)
    else:
        parent = path.absolute().parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        problem = _writable_folder_problem(parent)
    if problem:
        raise BadValue(f"cannot write into {text!r}: {problem}")
    return text


def require_extra(command: str, extra: str, *modules: str) -> None:
    """Refuse with one line naming the extra to install when one of ``modules`` cannot be imported.

    Raises:
        TrafficError: a module is missing.
    """
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module without a spec
            found = False
        if not found:
            raise TrafficError(f"greenwave {command} needs the '{extra}' extra (module {name!r} is missing): "
                               f"pip install 'greenwave[{extra}]'")


def add_scenario_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO",
                   help="scenario JSON file, or the name of a built-in scenario (see 'greenwave scenario list')")


def add_plan_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", metavar="PLAN", default=None,
                   help="a PLAN.json file (plans for some or all intersections; the rest keep the scenario's "
                        "active plan) or the name of a program stored in the scenario")


def add_rule_args(p: argparse.ArgumentParser) -> None:
    seconds = float_in(0.0, 3600.0)
    p.add_argument("--min-green-s", type=seconds, default=DEFAULT_MIN_GREEN_S,
                   help="minimum green (default %(default)s)")
    p.add_argument("--min-yellow-s", type=seconds, default=DEFAULT_MIN_YELLOW_S,
                   help="minimum yellow (default %(default)s)")
    p.add_argument("--min-all-red-s", type=seconds, default=DEFAULT_MIN_ALL_RED_S,
                   help="minimum all-red before a conflicting movement starts (default %(default)s)")
    p.add_argument("--max-cycle-s", type=positive_float(3600.0), default=DEFAULT_MAX_CYCLE_S,
                   help="maximum cycle (default %(default)s)")
    p.add_argument("--walk-s", type=seconds, default=HCM_WALK_S,
                   help="pedestrian walk before the clearance (default %(default)s, HCM)")
    p.add_argument("--walking-speed-m-s", type=positive_float(5.0), default=HCM_WALKING_SPEED_M_S,
                   help="walking speed of the pedestrian clearance (default %(default)s m/s, HCM)")
    p.add_argument("--no-pedestrians", action="store_true",
                   help="do not check the crossings' walk + clearance (scenarios without pedestrians)")


def rules_from(args: argparse.Namespace) -> ValidationRules:
    from traffic.pedestrians import HCM_PEDESTRIANS, PedestrianRules
    from traffic.plan_validation import ValidationRules

    peds = None if getattr(args, "no_pedestrians", False) else PedestrianRules(
        walk_s=getattr(args, "walk_s", HCM_PEDESTRIANS.walk_s),
        walking_speed_m_s=getattr(args, "walking_speed_m_s", HCM_PEDESTRIANS.walking_speed_m_s))
    return ValidationRules(min_green_s=args.min_green_s, min_yellow_s=args.min_yellow_s,
                           min_all_red_s=args.min_all_red_s, max_cycle_s=args.max_cycle_s, pedestrians=peds)


def scenario_with_plan(args: argparse.Namespace, rules: ValidationRules | None = None) -> Scenario:
    """Load the scenario and make ``--plan`` (file or program name) active, validating a file's plans."""
    from traffic.plan_validation import ValidationRules
    from traffic.scenario_io import load_plan_file, load_scenario

    scenario = load_scenario(args.scenario)
    plan = getattr(args, "plan", None)
    if plan is None:
        return scenario
    if Path(plan).suffix == ".json" or Path(plan).is_file():  # a folder named like a program is no plan file
        plans = load_plan_file(plan, scenario)
        return scenario.with_plans(plans, rules or ValidationRules())
    return scenario.select_plan(plan)
