"""Max pressure (Varaiya 2013), the baseline stage controller.

Every control step, at each signal free to switch, the stage with the largest pressure gets the
green: a stage's pressure is the sum over its movements of ``s_m * (x_in - x_out)``, with ``x_in``
the vehicles per lane waiting on the movement's approach lanes and ``x_out`` the vehicles per lane
on its exit link, and ``s_m`` the movement's saturation flow (proportional to its lanes). The
current stage is kept on ties. The kernel takes plain arrays (``stage_pressures``).

No movement starves: one with vehicles waiting that has had no green for ``max_red_s`` gets the
next green (the stage serving the longest-waiting movements), pressure or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from traffic.control import StageObservation
from traffic.errors import ModelError
from traffic.stages import StageSet


@dataclass(frozen=True, slots=True)
class MaxPressureParams:
    count_moving: bool = True
    """Count every detected vehicle on the approach (Varaiya's link occupancy); False counts only halting ones."""
    max_red_s: float | None = 120.0
    """Longest red of a movement with vehicles waiting (more than 0.5 halted) before its stage is forced;
    None: pure max pressure (a light movement beside heavy ones may wait without bound)."""

    def __post_init__(self) -> None:
        if not isinstance(self.count_moving, bool):
            raise ModelError("count_moving must be True or False")
        if self.max_red_s is not None and not self.max_red_s > 0:
            raise ModelError(f"max_red_s (={self.max_red_s}) must be > 0 or None")


def stage_pressures(membership: np.ndarray, inflow: np.ndarray, lanes: np.ndarray,
                    exit_per_lane: np.ndarray) -> np.ndarray:
    """Pressure of each stage: ``membership`` (stages x movements, 0/1) times ``inflow - lanes * exit_per_lane``."""
    return membership @ (inflow - lanes * exit_per_lane)


@dataclass(frozen=True)
class StageArrays:
    """One signal's stages as arrays over its movements (fixed order)."""

    movements: tuple[str, ...]
    membership: np.ndarray
    lanes: np.ndarray

    @classmethod
    def of(cls, stages: StageSet) -> StageArrays:
        inter = stages.intersection
        movements = tuple(inter.movements)
        membership = np.array([[1.0 if m in s.green_movements else 0.0 for m in movements] for s in stages.stages])
        lanes = np.array([float(len(inter.movements[m].from_lanes)) for m in movements])
        return cls(movements, membership, lanes)

    def vector(self, values: Mapping[str, float]) -> np.ndarray:
        return np.fromiter((values[m] for m in self.movements), float, len(self.movements))


class MaxPressureController:
    """Varaiya's max pressure on each signal's own stages (``traffic.control.StageController``)."""

    def __init__(self, stage_sets: Mapping[str, StageSet], params: MaxPressureParams | None = None) -> None:
        self.params = params or MaxPressureParams()
        self.arrays = {iid: StageArrays.of(ss) for iid, ss in stage_sets.items()}
        self._last_green_s: dict[str, np.ndarray] = {}

    def pressures(self, obs: StageObservation) -> np.ndarray:
        a = self.arrays[obs.intersection]
        inflow = a.vector(obs.queue_veh)
        if self.params.count_moving:
            inflow = inflow + a.vector(obs.moving_veh)
        return stage_pressures(a.membership, inflow, a.lanes, a.vector(obs.exit_veh_per_lane))

    def choose(self, now_s: float, observations: Mapping[str, StageObservation]) -> dict[str, int]:
        out = {}
        for iid, obs in observations.items():
            a = self.arrays[iid]
            last = self._last_green_s.setdefault(iid, np.full(len(a.movements), now_s))
            if obs.green_s > 0 or obs.can_switch:
                last[a.membership[obs.stage] > 0] = now_s
            if not obs.can_switch:
                continue
            if self.params.max_red_s is not None:
                red = now_s - last
                starving = (a.vector(obs.queue_veh) > 0.5) & (red > self.params.max_red_s)
                need = a.membership @ (starving * red)
                if starving.any() and need.max() > 0:
                    out[iid] = int(np.argmax(need))
                    continue
            p = self.pressures(obs)
            best = int(np.argmax(p))
            out[iid] = obs.stage if p[obs.stage] >= p[best] else best
        return out
