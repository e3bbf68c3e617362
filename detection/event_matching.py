"""One-to-one matching of crossing events by time and position (against ground truth, or between two runs).

Two events match when they cross in the same direction within ``tolerance_s`` of each other and
within ``tolerance_px`` of each other along the line; among the admissible pairs the assignment
has the most pairs and, among those, the least summed normalised distance (``motion_association.assign``),
so each event matches at most one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detection.motion_association import assign


@dataclass(frozen=True)
class CrossingEvent:
    """A crossing reduced to what matching needs: when, where along the line, which way, what."""

    time_s: float
    x_px: float
    direction: str
    vehicle_class: str


@dataclass(frozen=True)
class MatchResult:
    """Matched pairs ``(index in truth, index in found)`` and what is left on each side."""

    pairs: tuple[tuple[int, int], ...]
    truth: int
    found: int

    @property
    def precision(self) -> float:
        return len(self.pairs) / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return len(self.pairs) / self.truth if self.truth else 1.0

    def missed(self) -> list[int]:
        """Indices of truth events with no match."""
        hit = {a for a, _ in self.pairs}
        return [i for i in range(self.truth) if i not in hit]

    def extra(self) -> list[int]:
        """Indices of found events with no match."""
        hit = {b for _, b in self.pairs}
        return [i for i in range(self.found) if i not in hit]


def match_cost(truth_s: NDArray[np.float64], truth_px: NDArray[np.float64], found_s: NDArray[np.float64],
               found_px: NDArray[np.float64], tolerance_s: float, tolerance_px: float) -> NDArray[np.float64]:
    """``(T, F)`` normalised distance ``|dt| / tolerance_s + |dx| / tolerance_px``; inf beyond either tolerance."""
    dt = np.abs(truth_s[:, None] - found_s[None, :])
    dx = np.abs(truth_px[:, None] - found_px[None, :])
    cost = dt / tolerance_s + dx / tolerance_px
    cost[(dt > tolerance_s) | (dx > tolerance_px)] = np.inf
    return cost


def match_events(truth: list[CrossingEvent], found: list[CrossingEvent], tolerance_s: float,
                 tolerance_px: float) -> MatchResult:
    """One-to-one match of ``found`` events to ``truth`` events of the same direction (classes may differ)."""
    pairs: list[tuple[int, int]] = []
    for direction in sorted({e.direction for e in truth} | {e.direction for e in found}):
        ti = [i for i, e in enumerate(truth) if e.direction == direction]
        fi = [i for i, e in enumerate(found) if e.direction == direction]
        if not ti or not fi:
            continue
        cost = match_cost(np.array([truth[i].time_s for i in ti]), np.array([truth[i].x_px for i in ti]),
                          np.array([found[i].time_s for i in fi]), np.array([found[i].x_px for i in fi]),
                          tolerance_s, tolerance_px)
        pairs += [(ti[r], fi[c]) for r, c in assign(np.where(np.isfinite(cost), cost, np.inf))]
    return MatchResult(tuple(sorted(pairs)), len(truth), len(found))


def read_manual_ground_truth(path: Path, fps: float) -> list[CrossingEvent]:
    """Events of a ``*.manual_gt.csv`` with ``frame``, ``x_px``, ``class`` and ``direction`` columns.

    ``down`` is the IN direction of a left-to-right horizontal count line, ``up`` its OUT.
    """
    with path.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    sense = {"down": "in", "up": "out", "in": "in", "out": "out"}
    return [CrossingEvent(int(r["frame"]) / fps, float(r["x_px"]), sense[r["direction"].strip()], r["class"].strip())
            for r in rows]
