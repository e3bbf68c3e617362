"""Means and 95 % confidence intervals of sweep results, per plan and demand level.

The interval is Student's t interval of the mean over seeds: mean +- t(0.975, n-1) * sd / sqrt(n),
with the sample standard deviation (ddof 1). Runs whose figure is NaN (e.g. no vehicle arrived)
are left out of that figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulation.sweep import RunResult, SweepCase

# t(0.975, df) for df = 1..30 (two-sided 95 %); beyond, the Cornish-Fisher expansion is exact to 1e-6
_T975 = (12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
         2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
         2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
         2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
         2.045229642, 2.042272456)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"df (={df}) must be >= 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)  # Abramowitz & Stegun 26.7.5
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


def mean_ci95(values: NDArray[np.float64]) -> tuple[float, float, float, int]:
    """``(mean, low, high, n)`` of the finite values; the bounds are NaN with fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = t_quantile_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


@dataclass(frozen=True)
class MeanCI:
    """A figure's mean over seeds, its 95 % confidence interval and the number of runs it rests on."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float | int | None]:
        def clean(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"mean": clean(self.mean), "ci95_low": clean(self.low), "ci95_high": clean(self.high), "n": self.n}


@dataclass(frozen=True)
class SummaryRow:
    """Every metric of one plan at one demand level, over its seeds."""

    plan: str
    demand_scale: float
    seeds: tuple[int, ...]
    metrics: dict[str, MeanCI]


def summarise(results: Mapping[SweepCase, RunResult]) -> list[SummaryRow]:
    """One row per (plan, demand scale), in the order the cases first appear in ``results``."""
    groups: dict[tuple[str, float], list[RunResult]] = {}
    for case, result in results.items():
        groups.setdefault((case.plan, case.demand_scale), []).append(result)
    rows = []
    for (plan, scale), runs in groups.items():
        runs.sort(key=lambda r: r.case.seed)
        keys = [k for k, v in runs[0].metrics.items() if isinstance(v, int | float)]
        stats = {k: MeanCI(*mean_ci95(np.array([float(r.metrics[k]) for r in runs]))) for k in keys}
        rows.append(SummaryRow(plan, scale, tuple(r.case.seed for r in runs), stats))
    return rows
