"""Two-way bandwidth maximisation along an arterial (MAXBAND-style), through the Numba kernels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from signal_control import band_kernels
from signal_control.corridor import Corridor, green_window
from signal_control.errors import OptimizerError
from signal_control.params import DEFAULT_BANDWIDTH, BandwidthParams
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True)
class BandProblem:
    """Kernel inputs of one corridor under fixed splits and a common cycle (all in seconds).

    ``alpha[i]``: outbound green start minus the outbound travel time from signal 0;
    ``delta[i]``: inbound minus outbound green start in the moving frames (see :mod:`signal_control.band_kernels`).
    """

    cycle_s: float
    alpha: NDArray[np.float64]
    delta: NDArray[np.float64]
    g_out: NDArray[np.float64]
    g_in: NDArray[np.float64]


@dataclass(frozen=True)
class BandResult:
    """Offsets (intersection id -> s) and the bands they give."""

    offsets_s: dict[str, float]
    outbound_s: float
    inbound_s: float
    cycle_s: float

    @property
    def outbound_pct(self) -> float:
        return 100.0 * self.outbound_s / self.cycle_s

    @property
    def inbound_pct(self) -> float:
        return 100.0 * self.inbound_s / self.cycle_s


def band_problem(corridor: Corridor, plans: Mapping[str, SignalPlan]) -> BandProblem:
    """Arrays for the kernels from the corridor's plans (which must share one cycle)."""
    cycles = {plans[i].cycle_s for i in corridor.intersections}
    if len(cycles) != 1:
        raise OptimizerError(f"corridor signals must share one cycle, got {sorted(cycles)}")
    cycle = cycles.pop()
    t_out = np.concatenate([[0.0], np.cumsum(corridor.out_link_s)])
    t_in = np.concatenate([[0.0], np.cumsum(corridor.in_link_s)])
    wo = [green_window(plans[i], m) for i, m in zip(corridor.intersections, corridor.outbound, strict=True)]
    wi = [green_window(plans[i], m) for i, m in zip(corridor.intersections, corridor.inbound, strict=True)]
    alpha = np.array([w[0] for w in wo]) - t_out
    beta = np.array([w[0] for w in wi]) + t_in
    return BandProblem(float(cycle), np.ascontiguousarray(alpha), np.ascontiguousarray(beta - alpha),
                       np.array([w[1] for w in wo]), np.array([w[1] for w in wi]))


def solve_bands(problem: BandProblem, params: BandwidthParams = DEFAULT_BANDWIDTH) -> tuple[NDArray[np.float64],
                                                                                               NDArray[np.float64]]:
    """``(offsets, [b_out, b_in])`` maximising the weighted two-way band."""
    return band_kernels.band_solve(problem.alpha, problem.delta, problem.g_out, problem.g_in, problem.cycle_s,
                              float(params.weight_outbound), float(params.weight_inbound),
                              float(params.min_band_ratio))


def evaluate_bands(problem: BandProblem, offsets: NDArray[np.float64]) -> NDArray[np.float64]:
    """``[b_out, b_in]`` of given offsets (s)."""
    return band_kernels.band_eval(np.ascontiguousarray(offsets, dtype=np.float64), problem.alpha, problem.delta,
                             problem.g_out, problem.g_in, problem.cycle_s)


def maximise_bandwidth(corridor: Corridor, plans: Mapping[str, SignalPlan],
                       params: BandwidthParams = DEFAULT_BANDWIDTH) -> BandResult:
    """Offsets for the corridor's signals that maximise the weighted two-way bandwidth."""
    problem = band_problem(corridor, plans)
    offsets, bands = solve_bands(problem, params)
    # the first signal keeps offset 0: shift every offset by the same amount
    offsets = (offsets - offsets[0]) % problem.cycle_s
    return BandResult({iid: float(round(o, 1) % problem.cycle_s) for iid, o in zip(corridor.intersections, offsets,
                                                                                    strict=True)},
                      float(bands[0]), float(bands[1]), problem.cycle_s)


def corridor_bands(corridor: Corridor, plans: Mapping[str, SignalPlan]) -> tuple[float, float]:
    """Bands (s) the plans' own offsets give along the corridor."""
    problem = band_problem(corridor, plans)
    offsets = np.array([plans[i].offset_s for i in corridor.intersections], dtype=np.float64)
    b = evaluate_bands(problem, offsets)
    return float(b[0]), float(b[1])
