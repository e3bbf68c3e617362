"""Numeric kernel of the motion tracker: gated assignment of detections to motion-predicted tracks.

Plain numpy arrays in, index pairs out; no state. Distances are measured between box centres and
scaled by each track's gate radius, so a vehicle that moved several box lengths between two
processed frames (a low processing rate, a fast motorbike) is still matched to its track when it is
where the track's velocity predicted it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_NO_MATCH = 1e6
_LIMIT = 1e3  # any admissible cost is far below it: the most pairs first, then the least total cost


def gated_cost(pred_center_px: NDArray[np.float64], gate_radius_px: NDArray[np.float64],
               track_area_px2: NDArray[np.float64], det_center_px: NDArray[np.float64],
               det_area_px2: NDArray[np.float64], max_area_ratio: float = 3.0) -> NDArray[np.float64]:
    """``(T, D)`` cost: centre distance over the track's gate radius plus a size-change term.

    Pairs farther than the gate radius or whose areas differ by more than ``max_area_ratio`` get
    ``_NO_MATCH``.
    """
    d = np.hypot(det_center_px[None, :, 0] - pred_center_px[:, None, 0],
                 det_center_px[None, :, 1] - pred_center_px[:, None, 1]) / gate_radius_px[:, None]
    size = np.abs(np.log(np.maximum(det_area_px2[None, :], 1.0) / np.maximum(track_area_px2[:, None], 1.0)))
    cost = d + 0.5 * size
    cost[(d > 1.0) | (size > np.log(max_area_ratio))] = _NO_MATCH
    return cost


def assign(cost: NDArray[np.float64]) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one (row, column) pairs among the admissible ones (cost below ``_NO_MATCH``).

    Jonker-Volgenant (``lap``, which Ultralytics' trackers use too), on a cost matrix of any shape.
    """
    if cost.size == 0:
        return []
    import lap  # type: ignore[import-untyped]  # the 'detect' extra's solver, imported where used

    _, x, _ = lap.lapjv(np.minimum(cost, _NO_MATCH), extend_cost=True, cost_limit=_LIMIT)
    return [(r, int(c)) for r, c in enumerate(x.tolist()) if c >= 0 and cost[r, c] < _NO_MATCH]


def rejoin_cost(last_center_px: NDArray[np.float64], moved_px: NDArray[np.float64], diag_px: NDArray[np.float64],
                det_center_px: NDArray[np.float64], lateral_frac: float = 0.5,
                ahead_factor: float = 2.0) -> NDArray[np.float64]:
    """``(T, D)`` cost of re-joining a lost, moving track: only detections ahead of it along its motion.

    A detection is admissible when it lies forward of the track's last centre along its predicted
    move ``moved_px``, no farther than ``ahead_factor`` times that move plus half a box diagonal,
    and within ``lateral_frac`` box diagonals of the line of motion. Tracks that barely move
    (predicted move under a fifth of their diagonal) re-join nothing.
    """
    step = np.hypot(moved_px[:, 0], moved_px[:, 1])
    unit = moved_px / np.maximum(step, 1e-9)[:, None]
    d = det_center_px[None, :, :] - last_center_px[:, None, :]
    along = d[..., 0] * unit[:, None, 0] + d[..., 1] * unit[:, None, 1]
    lateral = np.abs(d[..., 0] * unit[:, None, 1] - d[..., 1] * unit[:, None, 0])
    miss = np.hypot(d[..., 0] - moved_px[:, None, 0], d[..., 1] - moved_px[:, None, 1])
    cost = miss / (step + diag_px)[:, None]
    reach = ahead_factor * step[:, None] + 0.5 * diag_px[:, None]
    ok = (step[:, None] >= 0.2 * diag_px[:, None]) & (along > 0) & (along <= reach) \
        & (lateral <= lateral_frac * diag_px[:, None])
    cost[~ok] = _NO_MATCH
    return cost


def overlap_of_smaller(box_px: NDArray[np.floating], boxes_px: NDArray[np.floating]) -> NDArray[np.float64]:
    """Intersection of ``box_px`` with each of ``boxes_px`` (``(N, 4)`` x1 y1 x2 y2) over the smaller box's area."""
    b = np.asarray(box_px, np.float64)
    o = np.asarray(boxes_px, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(b[2], o[:, 2]) - np.maximum(b[0], o[:, 0]), 0, None)
    h = np.clip(np.minimum(b[3], o[:, 3]) - np.maximum(b[1], o[:, 1]), 0, None)
    area = (b[2] - b[0]) * (b[3] - b[1])
    areas = (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1])
    return np.asarray(w * h / np.maximum(np.minimum(area, areas), 1e-9), np.float64)
