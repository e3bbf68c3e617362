"""Delay-and-stops minimisation (TRANSYT-style) over offsets and splits, with random restarts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from signal_control import delay_kernels
from signal_control.network_model import NetworkArrays
from signal_control.params import DelayParams


@dataclass(frozen=True)
class DelaySolution:
    """Offsets and greens (in ``NetworkArrays`` order) and their performance index (veh-s/s)."""

    offsets: NDArray[np.float64]
    greens: NDArray[np.float64]
    pi: float


def offset_steps(cycle: float) -> NDArray[np.float64]:
    """Offset moves from about half a cycle down to 1 s, halving."""
    steps = []
    s = cycle / 2
    while s >= 1.0:
        steps.append(float(round(s)))
        s /= 2
    return np.array(sorted(set(steps), reverse=True) or [1.0])


def hill_climb(arrays: NetworkArrays, offsets: NDArray[np.float64], greens: NDArray[np.float64],
               params: DelayParams) -> DelaySolution:
    """One coordinate hill-climb from the given offsets and greens (copies, inputs untouched)."""
    off = np.ascontiguousarray(offsets, dtype=np.float64).copy()
    grn = np.ascontiguousarray(greens, dtype=np.float64).copy()
    out = np.zeros((len(arrays.streams), arrays.steps))
    pi_st = np.zeros(len(arrays.streams))
    split_steps = np.array([4.0, 2.0, 1.0]) if params.optimise_splits else np.zeros(0)
    a = arrays
    pi = delay_kernels.climb(off, grn, a.min_greens, a.inters, a.ph_ptr, a.st_sig, a.st_mask, a.sat, a.ext, a.flow,
                       a.fd_ptr, a.fd_src, a.fd_frac, a.fd_shift, a.fd_disp, a.aff_ptr, a.aff_idx, a.cycle, a.steps,
                       a.lost_start, a.yellow_used, a.stop_penalty_s, params.sweeps, offset_steps(a.cycle),
                       split_steps, params.max_passes, out, pi_st)
    return DelaySolution(off, grn, float(pi))


def minimise_delay(arrays: NetworkArrays, params: DelayParams,
                   starts: list[NDArray[np.float64]] | None = None) -> DelaySolution:
    """Best hill-climb over the given starting offsets plus ``params.restarts`` random ones."""
    rng = np.random.default_rng(params.seed)
    starts = list(starts or [arrays.offsets])
    starts += [rng.uniform(0, arrays.cycle, len(arrays.signals)).round() for _ in range(params.restarts)]
    best: DelaySolution | None = None
    for s in starts:
        sol = hill_climb(arrays, s, arrays.greens, params)
        if best is None or sol.pi < best.pi:
            best = sol
    assert best is not None
    return best
