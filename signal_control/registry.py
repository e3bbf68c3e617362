"""The one table of controller names, shared by the CLI, the demo and the benchmarks.

Every controller Greenwave offers is listed here once, under one name, with what it can do:

* ``strategic``: answers interval counts with signal plans (``traffic.control.Controller.decide``);
  cycle, splits and offsets, re-planned every few minutes;
* ``tactical``: answers the detector observations of every control step with the stage each signal
  shows next (``traffic.control.StageController.choose``);
* ``follows_plans``: a tactical controller that times its stages around the plan in force
  (coordinated-actuated: the strategic layer sets the plan, this one acts second by second).

``fixed`` has none of them: no controller runs, the plans (or a SUMO net's own programs) run as stored.

Importing this module imports no controller (nor numba, numpy or simpy): ``ControllerEntry.load``
imports its class when a run needs it, so the command line can offer the names in ``--help`` cheaply.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from traffic.errors import TrafficError

if TYPE_CHECKING:
    from traffic.control import StageController
    from traffic.stages import StageSet

Capability = Literal["strategic", "tactical", "follows_plans"]
CAPABILITIES: tuple[Capability, ...] = ("strategic", "tactical", "follows_plans")


class UnknownControllerError(TrafficError, ValueError):
    """A controller name the registry does not hold, or one that cannot do what it is asked for."""


@dataclass(frozen=True)
class ControllerEntry:
    """One controller: its name, what it can do, and where its class lives (``module:attribute``,
    imported by ``load``; None for ``fixed``, which runs no controller)."""

    name: str
    capabilities: frozenset[Capability]
    target: str | None
    summary: str

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"controller {self.name!r}: unknown capabilities {sorted(unknown)}")
        if ("follows_plans" in self.capabilities) and "tactical" not in self.capabilities:
            raise ValueError(f"controller {self.name!r}: following plans is a tactical capability")
        if (self.target is None) != (not self.capabilities):
            raise ValueError(f"controller {self.name!r}: a controller with capabilities needs a class, and only it")

    @property
    def strategic(self) -> bool:
        """Interval counts -> plans."""
        return "strategic" in self.capabilities

    @property
    def tactical(self) -> bool:
        """Per-step observations -> stage command."""
        return "tactical" in self.capabilities

    @property
    def follows_plans(self) -> bool:
        """Tactical control timed around the plan in force (it needs a plan clock from the street)."""
        return "follows_plans" in self.capabilities

    def describe(self) -> str:
        """What the controller does, in words (``strategic: counts -> plans``, ...)."""
        words = {"strategic": "strategic: counts -> plans", "tactical": "tactical: observations -> stages",
                 "follows_plans": "following the plan in force"}
        return ", ".join(words[c] for c in CAPABILITIES if c in self.capabilities) or "no controller"

    def load(self) -> Any:
        """The controller's class (imported now); None for ``fixed``."""
        if self.target is None:
            return None
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


CONTROLLERS: tuple[ControllerEntry, ...] = (
    ControllerEntry("fixed", frozenset(), None,
                    "no controller: the plans (or a SUMO net's own programs) run as stored"),
    ControllerEntry("adaptive", frozenset({"strategic"}), "signal_control.adaptive:AdaptiveController",
                    "re-optimises cycle, splits and offsets from interval counts, with smoothing, plausibility "
                    "checks, failsafe to the time-of-day plan and safe transitions"),
    ControllerEntry("max-pressure", frozenset({"tactical"}), "signal_control.max_pressure:MaxPressureController",
                    "Varaiya's max pressure: every control step, the stage whose movements have the most waiting "
                    "minus exit vehicles per lane (saturation-weighted)"),
    ControllerEntry("adaptive-stage", frozenset({"tactical"}),
                    "signal_control.adaptive_stage:AdaptiveStageController",
                    "Greenwave's adaptive stage control: pressure on the detected stretches' occupancy (approach "
                    "minus exit), with maximum red and maximum green"),
    ControllerEntry("coordinated-actuated", frozenset({"tactical", "follows_plans"}),
                    "signal_control.coordinated_actuated:CoordinatedActuatedController",
                    "runs the plan in force coordinated-actuated: side stages on call with gap-out and force-off, "
                    "unused time back to the coordinated stage"),
)
"""Every controller, in the order the command line lists them."""

_BY_NAME = {entry.name: entry for entry in CONTROLLERS}


def names(*, having: tuple[Capability, ...] = (), lacking: tuple[Capability, ...] = (),
          with_fixed: bool = False) -> tuple[str, ...]:
    """The names of the controllers with every capability in ``having`` and none in ``lacking``
    (``with_fixed``: ``fixed`` first, the choice of running none)."""
    out = [e.name for e in CONTROLLERS if e.capabilities
           and set(having) <= e.capabilities and not set(lacking) & e.capabilities]
    return ("fixed", *out) if with_fixed else tuple(out)


def get(name: str, *, having: tuple[Capability, ...] = (), lacking: tuple[Capability, ...] = ()) -> ControllerEntry:
    """The entry called ``name``, which must have every capability in ``having`` and none in ``lacking``
    (``fixed`` is always accepted: it runs no controller).

    Raises:
        UnknownControllerError: no such controller, or it lacks (or has) a capability asked about.
    """
    entry = _BY_NAME.get(name)
    fits = names(having=having, lacking=lacking, with_fixed=True)
    if entry is None:
        raise UnknownControllerError(f"unknown controller {name!r}; choose from {', '.join(fits)}")
    if name not in fits:
        raise UnknownControllerError(f"controller {name!r} ({entry.describe()}) cannot be used here; choose from "
                                     f"{', '.join(fits)}")
    return entry


def stage_controller_factory(name: str) -> Callable[[Mapping[str, StageSet]], StageController] | None:
    """The class of the plain tactical controller ``name`` (built from the signals' stage sets), or None
    for ``fixed``. A controller that follows plans needs a plan clock, so it is refused here.

    Raises:
        UnknownControllerError: ``name`` is not ``fixed`` nor a tactical controller that runs alone.
    """
    factory: Callable[[Mapping[str, StageSet]], StageController] | None = \
        get(name, having=("tactical",), lacking=("follows_plans",)).load()
    return factory


__all__ = ["CAPABILITIES", "CONTROLLERS", "Capability", "ControllerEntry", "UnknownControllerError", "get", "names",
           "stage_controller_factory"]
