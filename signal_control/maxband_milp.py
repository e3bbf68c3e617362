"""The exact MAXBAND optimum as a mixed-integer program (scipy ``milp``/HiGHS): the reference for
the bandwidth kernel in the slow test and the benchmark. Needs scipy (the ``dev`` extra).

Variables: offsets u_i, inbound band start q, bands b_out and b_in, integers n_i. The outbound band
is [0, b_out] in its moving frame (fixing the global shift); the outbound green of signal i is
[u_i + alpha_i, + g_out_i], the inbound one [u_i + alpha_i + delta_i + n_i C, + g_in_i]:

    u_i + alpha_i <= 0,              b_out - u_i - alpha_i <= g_out_i,
    u_i + alpha_i + delta_i + n_i C - q <= 0,
    q + b_in - u_i - alpha_i - delta_i - n_i C <= g_in_i,
    maximise w_out b_out + w_in b_in   (optionally b_in >= r b_out and b_out >= r b_in).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def maxband_milp(alpha: NDArray[np.float64], delta: NDArray[np.float64], g_out: NDArray[np.float64],
                 g_in: NDArray[np.float64], cycle: float, w_out: float, w_in: float, ratio: float = 0.0,
                 time_limit_s: float = 60.0) -> tuple[float, float, NDArray[np.float64]]:
    """``(b_out, b_in, offsets)`` of the exact optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(alpha)
    # variable order: u (n), q, b_out, b_in, n_int (n)
    nv = 2 * n + 3
    iq, ibo, ibi = n, n + 1, n + 2
    rows, lo, hi = [], [], []

    def row() -> NDArray[np.float64]:
        return np.zeros(nv)

    for i in range(n):
        r = row()
        r[i] = 1
        rows.append(r)
        lo.append(-np.inf)
        hi.append(-alpha[i])
        r = row()
        r[ibo], r[i] = 1, -1
        rows.append(r)
        lo.append(-np.inf)
        hi.append(g_out[i] + alpha[i])
        r = row()
        r[i], r[n + 3 + i], r[iq] = 1, cycle, -1
        rows.append(r)
        lo.append(-np.inf)
        hi.append(-alpha[i] - delta[i])
        r = row()
        r[iq], r[ibi], r[i], r[n + 3 + i] = 1, 1, -1, -cycle
        rows.append(r)
        lo.append(-np.inf)
        hi.append(g_in[i] + alpha[i] + delta[i])
    if ratio > 0:  # each band at least ``ratio`` times the other
        for a, b in ((ibi, ibo), (ibo, ibi)):
            r = row()
            r[a], r[b] = -1.0, ratio
            rows.append(r)
            lo.append(-np.inf)
            hi.append(0.0)
    c = np.zeros(nv)
    c[ibo], c[ibi] = -w_out, -w_in
    span = float(np.max(np.abs(alpha)) + np.max(np.abs(delta)) + 2 * cycle)
    lb = np.concatenate([np.full(n, -span - cycle), [0.0, 0.0, 0.0], np.full(n, -np.ceil(span / cycle) - 3)])
    ub = np.concatenate([np.full(n, span + cycle), [cycle, g_out.min(), g_in.min()],
                         np.full(n, np.ceil(span / cycle) + 3)])
    integrality = np.concatenate([np.zeros(n + 3), np.ones(n)])
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=integrality,
               bounds=Bounds(lb, ub), options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9})
    if res.x is None:
        raise RuntimeError(f"MAXBAND MILP failed: {res.message}")
    x = res.x
    return float(x[ibo]), float(x[ibi]), np.mod(x[:n], cycle)
