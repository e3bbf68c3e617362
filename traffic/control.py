"""The contract between controllers and whatever runs the signals (simulator, SUMO, the live API).

Every decision interval, the runner calls ``Controller.decide`` with the interval counts of each
intersection and the state of its signals; the controller answers, per intersection, a sequence of
plans: all but the last run for exactly one cycle each (transition cycles), the last runs until
the next decision. The sequence starts at the end of the cycle in progress.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from traffic.counts import IntervalCounts
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True, slots=True)
class SignalState:
    """What a controller may know about a signal: the plan running and when its cycle ends."""

    intersection: str
    plan: SignalPlan
    cycle_end_s: float
    pending: bool = False
    """True while a previously requested plan sequence has not finished starting."""


class Controller(Protocol):
    """Turns measured counts into plan sequences (see the module docstring)."""

    def decide(self, now_s: float, counts: Mapping[str, IntervalCounts],
               signals: Mapping[str, SignalState]) -> Mapping[str, Sequence[SignalPlan]]: ...
