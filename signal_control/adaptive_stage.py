"""Greenwave's adaptive stage control: capacity-aware pressure with fairness bounds.

For signals run stage by stage (no common cycle: real, irregular networks such as ingolstadt7),
every control step, at each signal free to switch:

1. each movement's load is what its detectors see as a share of what they hold when jammed
   (halted and moving vehicles over the detected storage), on the approach and on the exit. Plain
   max pressure counts vehicles, so an approach whose detected stretch is short (a short edge
   before the network's boundary, a turn pocket) never outweighs long ones, however full it is,
   and its queue backs out of sight (for RESCO's ingolstadt7: out of the network, where vehicles
   cannot even enter);
2. a stage's pressure is the sum over its movements of lanes x (approach share - exit share);
   the stage with the largest pressure gets the green, the current one kept unless another beats
   it by more than ``switch_margin``;
3. fairness and bounds: a movement with vehicles waiting for longer than ``max_red_s`` gets the
   next green (the stage serving the longest-waiting movements), and no green runs past
   ``max_green_s`` while another stage has vehicles waiting.

The decision is the ``stage_choice`` kernel on plain arrays; the class keeps the per-movement
waiting clocks and maps observations to arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from signal_control.max_pressure import StageArrays, stage_pressures
from traffic.checks import require
from traffic.control import StageObservation
from traffic.stages import StageSet


@dataclass(frozen=True, slots=True)
class AdaptiveStageParams:
    """Settings of adaptive stage control (times in seconds)."""

    switch_margin: float = 0.0
    """How much another stage's pressure must exceed the current one's to switch (lanes' worth of storage)."""
    max_red_s: float = 120.0
    max_green_s: float = 120.0
    waiting_veh: float = 0.5
    """A movement counts as waiting (for ``max_red_s`` and ``max_green_s``) above this many halted vehicles."""

    def __post_init__(self) -> None:
        require(self, ("max_red_s", "max_green_s", "waiting_veh"), strict=True, what="adaptive stage parameter")
        require(self, ("switch_margin",), strict=False, what="adaptive stage parameter")


def stage_choice(membership: np.ndarray, load: np.ndarray, lanes: np.ndarray, exit_load: np.ndarray,
                 current: int, green_s: float, red_s: np.ndarray, waiting: np.ndarray,
                 margin: float, max_red_s: float, max_green_s: float) -> int:
    """The stage to show next (``current`` to hold); see the module docstring.

    ``load`` and ``exit_load``: per movement, its approach's and its exit's load (shares of the
    detected storage); ``lanes``: its lanes (the saturation-flow weight); ``red_s``: seconds since
    its last green; ``waiting``: True where vehicles wait.
    """
    starving = waiting & (red_s > max_red_s)
    if starving.any():
        need = membership @ (starving * red_s)
        best = int(np.argmax(need))
        if need[best] > 0 and best != current:
            return best
    pressure = stage_pressures(membership, lanes * load, lanes, exit_load)
    others = np.where(np.arange(membership.shape[0]) != current, pressure, -np.inf)
    best = int(np.argmax(others))
    if green_s >= max_green_s and (membership[best] @ waiting) > 0:
        return best
    if pressure[best] > pressure[current] + margin:
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
            queue = a.vector(obs.queue_veh)
            load = (queue + a.vector(obs.moving_veh)) / np.maximum(a.vector(obs.storage_veh), 1.0)
            exit_load = a.vector(obs.exit_veh_per_lane) / np.maximum(a.vector(obs.exit_storage_veh_per_lane), 1.0)
            out[iid] = stage_choice(a.membership, load, a.lanes, exit_load, obs.stage, obs.green_s, now_s - last,
                                    queue > p.waiting_veh, p.switch_margin, p.max_red_s, p.max_green_s)
        return out
