"""Greenwave's adaptive stage control: serve what is there, switch when waiting outweighs flowing.

For signals run stage by stage (no common cycle: real, irregular networks such as ingolstadt7),
every control step, at each signal free to switch:

1. the current stage's *flowing demand* is what its green would still serve: vehicles queued or
   moving on its movements' detected stretch, less what the exits can take (``lanes * exit``);
2. every other stage's *waiting pressure* counts only halted vehicles (vehicles still moving
   towards a red would have to stop anyway), less the exits' load;
3. the green stays while its flowing demand is at least the best waiting pressure plus
   ``switch_margin_veh`` (a switch costs a yellow and a start-up), and ends otherwise, giving the
   green to the stage with the largest waiting pressure;
4. fairness and bounds: a movement with vehicles waiting for longer than ``max_red_s`` gets the
   next green (the stage serving the longest-waiting movements), and no green runs past
   ``max_green_s`` while another stage has vehicles waiting.

The decision is the ``stage_choice`` kernel on plain arrays; this class keeps the per-movement
waiting clocks and maps observations to arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from signal_control.max_pressure import StageArrays
from traffic.checks import require
from traffic.control import StageObservation
from traffic.stages import StageSet


@dataclass(frozen=True, slots=True)
class AdaptiveStageParams:
    """Settings of adaptive stage control (times in seconds, vehicles in vehicles)."""

    switch_margin: float = 0.0
    """How much the best waiting pressure must exceed the flowing demand to switch (pressure units:
    vehicles, or lanes' worth of detected storage when ``normalise``)."""
    max_red_s: float = 90.0
    max_green_s: float = 90.0
    waiting_veh: float = 0.5
    """A movement counts as waiting (for ``max_red_s`` and ``max_green_s``) above this many halted vehicles."""
    normalise: bool = True
    """Weigh vehicles as shares of the detected storage (else as vehicles per lane)."""

    def __post_init__(self) -> None:
        require(self, ("max_red_s", "max_green_s", "waiting_veh"), strict=True, what="adaptive stage parameter")
        require(self, ("switch_margin",), strict=False, what="adaptive stage parameter")


def stage_choice(membership: np.ndarray, queue: np.ndarray, moving: np.ndarray, lanes: np.ndarray,
                 exit_load: np.ndarray, current: int, green_s: float, red_s: np.ndarray,
                 margin: float, max_red_s: float, max_green_s: float, waiting: np.ndarray) -> int:
    """The stage to show next (``current`` to hold); see the module docstring.

    ``queue``, ``moving``: halted and moving vehicles per movement, ``exit_load`` what its exit holds
    (all in the same unit, e.g. shares of the detected storage), ``lanes`` its lanes (saturation
    flow weight), ``red_s`` seconds each movement has waited since its last green, ``waiting``
    which movements have vehicles waiting.
    """
    pressure_waiting = membership @ (lanes * (queue - exit_load))
    flowing = membership[current] @ (lanes * (queue + moving - exit_load))
    others = np.arange(membership.shape[0]) != current
    starving = waiting & (red_s > max_red_s)
    if starving.any():
        need = membership @ (starving * red_s)
        best = int(np.argmax(need))
        if need[best] > 0 and best != current:
            return best
    best = int(np.argmax(np.where(others, pressure_waiting, -np.inf)))
    if green_s >= max_green_s and (membership[best] @ waiting) > 0:
        return best
    if pressure_waiting[best] > flowing + margin:
        return best
    return current


class AdaptiveStageController:
    """Greenwave's adaptive stage control (``traffic.control.StageController``), see the module docstring."""

    def __init__(self, stage_sets: Mapping[str, StageSet], params: AdaptiveStageParams | None = None) -> None:
        self.params = params or AdaptiveStageParams()
        self.arrays = {iid: StageArrays.of(ss) for iid, ss in stage_sets.items()}
        self._last_green_s: dict[str, np.ndarray] = {}

    def choose(self, now_s: float, observations: Mapping[str, StageObservation]) -> dict[str, int]:
        p = self.params
        out = {}
        for iid, obs in observations.items():
            a = self.arrays[iid]
            last = self._last_green_s.setdefault(iid, np.full(len(a.movements), now_s))
            if obs.green_s > 0 or obs.can_switch:
                last[a.membership[obs.stage] > 0] = now_s
            if not obs.can_switch:
                continue
            queue, moving = a.vector(obs.queue_veh), a.vector(obs.moving_veh)
            exit_load = a.vector(obs.exit_veh_per_lane)
            waiting = queue > p.waiting_veh
            if p.normalise:  # shares of the detected storage: a short full approach weighs as a long full one
                storage = np.maximum(a.vector(obs.storage_veh), 1.0)
                queue, moving = queue / storage, moving / storage
                exit_load = exit_load / np.maximum(a.vector(obs.exit_storage_veh_per_lane), 1.0)
            else:
                queue, moving = queue / a.lanes, moving / a.lanes
            out[iid] = stage_choice(a.membership, queue, moving, a.lanes, exit_load, obs.stage, obs.green_s,
                                    now_s - last, p.switch_margin, p.max_red_s, p.max_green_s, waiting)
        return out
