"""Smoothed per-movement demand from interval counts, with its sampling noise, and the test that says
whether it has drifted from the demand a plan was made for.

Counts are departures over an interval. The estimate of a movement's demand is their exponentially
smoothed flow plus the flow that would clear its share of the *residual* queue left at the end of
the interval: the queue beyond what one red builds up at the measured flow (a standing queue at the end
of an interval is normal under a red; only what is left over from earlier cycles is demand the counts
missed, and a movement given too little green would otherwise be planned at the flow it was served).

The sampling noise of the estimate: arrivals of a movement over an interval of ``d`` seconds are
close to Poisson (variance = mean), so an exponentially weighted mean of interval flows with weights
``w_i`` has variance ``3600 q * sum(w_i^2 / d_i)`` (veh/h squared) for a flow of ``q`` veh/h. The
drift statistic sums over movements the squared standardised differences between the estimate and a
design demand; under "no drift" it is chi-square distributed with one degree of freedom per movement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

FLOOR_VEH_H = 30.0
"""Smallest flow whose Poisson variance the drift test assumes (a movement planned at zero may carry
a few vehicles by chance: they must not count as a drift)."""


def chi2_quantile(df: int, p: float) -> float:
    """The ``p`` quantile of the chi-square distribution with ``df`` degrees of freedom (Wilson-Hilferty:
    within 1 % of the exact value for ``df >= 3`` at the usual levels)."""
    if df <= 0:
        raise ValueError(f"df (={df}) must be > 0")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p (={p}) must be in (0, 1)")
    z = NormalDist().inv_cdf(p)
    k = 2.0 / (9.0 * df)
    return df * max(0.0, 1.0 - k + z * math.sqrt(k)) ** 3


def drift_statistic(estimate_veh_h: Mapping[str, float], design_veh_h: Mapping[str, float],
                    variance_weight_per_s: float) -> tuple[float, int]:
    """``(statistic, degrees of freedom)``: the sum over movements of ``(estimate - design)^2 / variance``,
    the variance being the Poisson sampling variance of the estimate were the design flow true (at least
    ``FLOOR_VEH_H``): ``3600 * design * variance_weight_per_s``. Movements with neither flow are left out."""
    if not variance_weight_per_s > 0:
        raise ValueError(f"variance_weight_per_s (={variance_weight_per_s}) must be > 0")
    stat = 0.0
    df = 0
    for m in set(estimate_veh_h) | set(design_veh_h):
        est, design = estimate_veh_h.get(m, 0.0), design_veh_h.get(m, 0.0)
        if est <= 0.0 and design <= 0.0:
            continue
        variance = 3600.0 * max(design, FLOOR_VEH_H) * variance_weight_per_s
        stat += (est - design) ** 2 / variance
        df += 1
    return stat, df


def residual_queue_veh(queue_veh: float, flow_veh_h: float, red_s: float) -> float:
    """Vehicles of a lane group's end-of-interval queue beyond the one a red of ``red_s`` builds at
    ``flow_veh_h`` (the queue a signal shows every cycle, which its green clears)."""
    return max(0.0, queue_veh - flow_veh_h * red_s / 3600.0)


@dataclass
class DemandEstimate:
    """Exponentially smoothed flows per movement (veh/h and PCU/h) and their sampling-variance weight.

    ``update`` takes one interval of flows; ``horizon_s`` is the smoothing time constant. The first
    intervals are averaged with equal weight until they span the horizon (no bias toward the very
    first interval, counted while the network fills).
    """

    horizon_s: float
    veh_h: dict[str, float] = field(default_factory=dict)
    pcu_h: dict[str, float] = field(default_factory=dict)
    observed_s: float = 0.0
    """Seconds of counts behind the estimate."""
    variance_weight_per_s: float = 0.0
    """``sum(w_i^2 / d_i)`` over the intervals behind the estimate (weights ``w_i`` sum to 1)."""

    def update(self, duration_s: float, veh_h: Mapping[str, float], pcu_h: Mapping[str, float]) -> None:
        """Fold one interval of ``duration_s`` seconds into the estimate (flows per movement; a movement not
        in the flows, e.g. at an intersection whose counts are missing, keeps its estimate: missing is not zero)."""
        if not duration_s > 0:
            raise ValueError(f"duration_s (={duration_s}) must be > 0")
        alpha = 1.0 - math.exp(-duration_s / self.horizon_s)
        if self.observed_s < self.horizon_s:
            alpha = max(alpha, duration_s / (self.observed_s + duration_s))  # plain mean while young
        self.observed_s += duration_s
        self.variance_weight_per_s = (1.0 - alpha) ** 2 * self.variance_weight_per_s + alpha ** 2 / duration_s
        for target, new in ((self.veh_h, veh_h), (self.pcu_h, pcu_h)):
            for m, q in new.items():
                old = target.get(m)
                target[m] = q if old is None else old + alpha * (q - old)
