"""Numba kernels of the two-way bandwidth (MAXBAND-style) problem, fixed splits and cycle.

Plain contiguous arrays and scalars in and out, no domain objects; the pure-Python twins used by
the tests live in :mod:`signal_control.reference`, the exact MILP in :mod:`signal_control.maxband_milp`.

In a frame moving with the progression speed, signal i shows its outbound green from
``x_i = offset_i + alpha_i`` for ``g_out_i`` seconds and its inbound green from ``x_i + delta_i``
for ``g_in_i`` seconds (mod C), where alpha/delta fold in the green starts and the cumulative
travel times. :func:`band_eval` measures both bands for given offsets; :func:`band_solve` finds
offsets maximising ``w_out b_out + w_in b_in`` exactly: with the inbound band placed ``q`` seconds
after the outbound one, each signal can carry any ``(b_out, b_in)`` with
``b_out <= min(g_out, g_out + e)`` and ``b_in <= min(g_in, g_in - e)`` for some
``e = q - delta_i + mC``; for a fixed choice of the integers m the objective is concave piecewise
linear in q, so the optimum lies at one of its breakpoints, all of which are enumerated.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EPS = 1e-9


# --- bandwidth ----------------------------------------------------------------------------------

@njit(cache=True)
def common_arc(starts, lengths, cycle):
    """Start and length of the longest sub-interval common to all arcs [s_i, s_i + l_i) mod cycle."""
    n = starts.shape[0]
    lo = np.empty(2 * n + 2)
    hi = np.empty(2 * n + 2)
    nlo = np.empty(2 * n + 2)
    nhi = np.empty(2 * n + 2)
    base = starts[0] % cycle
    lo[0] = base
    hi[0] = base + lengths[0]
    m = 1
    for i in range(1, n):
        s = base + ((starts[i] - base) % cycle)
        k = 0
        for j in range(m):
            for shift in (-1.0, 0.0):
                a = max(lo[j], s + shift * cycle)
                b = min(hi[j], s + shift * cycle + lengths[i])
                if b > a + EPS:
                    nlo[k] = a
                    nhi[k] = b
                    k += 1
        m = k
        for j in range(m):
            lo[j] = nlo[j]
            hi[j] = nhi[j]
        if m == 0:
            return base, 0.0
    best = 0.0
    at = base
    for j in range(m):
        if hi[j] - lo[j] > best:
            best = hi[j] - lo[j]
            at = lo[j]
    return at % cycle, best


@njit(cache=True)
def band_eval(offsets, alpha, delta, g_out, g_in, cycle):
    """Outbound and inbound bandwidth (s) of the given offsets: array ``[b_out, b_in]``."""
    x = offsets + alpha
    _, b_out = common_arc(x, g_out, cycle)
    _, b_in = common_arc(x + delta, g_in, cycle)
    out = np.empty(2)
    out[0] = b_out
    out[1] = b_in
    return out


@njit(cache=True)
def _balanced(b_out, b_in, ratio):
    """Narrow the wider band so that neither is below ``ratio`` times the other (a narrower band
    inside a feasible one is feasible too)."""
    if ratio <= 0:
        return b_out, b_in
    return min(b_out, b_in / ratio), min(b_in, b_out / ratio)


@njit(cache=True)
def _best_at(q, delta, g_out, g_in, cycle, w_out, w_in, ratio, choice):
    """Best weighted band with the inbound band starting at q; fills ``choice`` with each signal's e."""
    n = delta.shape[0]
    max_opt = 4
    e_opt = np.full((n, max_opt), np.nan)
    for i in range(n):
        m0 = np.ceil((-g_out[i] - q + delta[i]) / cycle - EPS)
        k = 0
        while k < max_opt:
            e = q - delta[i] + (m0 + k) * cycle
            if e > g_in[i] + EPS:
                break
            e_opt[i, k] = e
            k += 1
        if k == 0:
            return -1.0, 0.0, 0.0
    best = -1.0
    best_bo = 0.0
    best_bi = 0.0
    for ti in range(n):
        for tk in range(max_opt):
            e_t = e_opt[ti, tk]
            if np.isnan(e_t):
                continue
            t = min(g_out[ti], g_out[ti] + e_t)
            b_in = 1e300
            for i in range(n):
                bi_best = -1.0
                for k in range(max_opt):
                    e = e_opt[i, k]
                    if np.isnan(e):
                        continue
                    if min(g_out[i], g_out[i] + e) >= t - EPS:
                        bi = min(g_in[i], g_in[i] - e)
                        if bi > bi_best:
                            bi_best = bi
                if bi_best < -EPS:
                    b_in = -1.0
                    break
                b_in = min(b_in, bi_best)
            if b_in < -EPS:
                continue
            bo_r, bi_r = _balanced(t, b_in, ratio)
            value = w_out * bo_r + w_in * bi_r
            if value > best + EPS:
                best = value
                best_bo = bo_r
                best_bi = bi_r
    # record, per signal, the option that supports (best_bo, best_bi) with the most slack
    for i in range(n):
        pick = np.nan
        slack = -1e300
        for k in range(max_opt):
            e = e_opt[i, k]
            if np.isnan(e):
                continue
            so = min(g_out[i], g_out[i] + e) - best_bo
            si = min(g_in[i], g_in[i] - e) - best_bi
            if so >= -1e-7 and si >= -1e-7 and min(so, si) > slack:
                slack = min(so, si)
                pick = e
        choice[i] = pick
    return best, best_bo, best_bi


@njit(cache=True)
def band_solve(alpha, delta, g_out, g_in, cycle, w_out, w_in, ratio):
    """Offsets maximising ``w_out * b_out + w_in * b_in`` (exact for fixed splits and cycle).

    The two-way optimum is exact under MAXBAND's model; the one-way waves (every signal aligned
    for one direction) are tried as well and kept when they score higher. ``ratio`` (0 for none)
    requires each band to be at least that fraction of the other, as MAXBAND's target-ratio constraint.

    Returns:
        ``(offsets, bands)``: offsets (s, in [0, cycle)) and ``[b_out, b_in]`` (s).
    """
    n = delta.shape[0]
    extra = 24 * n * n if ratio > 0 else 0
    cands = np.empty(2 * n * n + 2 * n + extra)
    k = 0
    for i in range(n):
        for j in range(n):
            cands[k] = (delta[i] + g_out[j] - g_out[i]) % cycle
            cands[k + 1] = (delta[i] + g_in[i] - g_in[j]) % cycle
            k += 2
        cands[k] = (delta[i] - g_out[i]) % cycle
        cands[k + 1] = (delta[i] + g_in[i]) % cycle
        k += 2
    if ratio > 0:
        # with the ratio constraint, the optimum may also sit where one band's bound meets
        # ``ratio`` times the other's: b_out bounds g_out_i or g_out_i + q - c_i, b_in bounds
        # g_in_j or g_in_j - q + c_j, with c = delta - mC
        r = ratio
        for i in range(n):
            for j in range(n):
                cands[k] = (r * g_in[j] - g_out[i] + delta[i]) % cycle
                cands[k + 1] = (g_in[j] + delta[j] - g_out[i] / r) % cycle
                cands[k + 2] = (g_in[j] / r - g_out[i] + delta[i]) % cycle
                cands[k + 3] = (g_in[j] + delta[j] - r * g_out[i]) % cycle
                k += 4
                for m in range(-5, 5):
                    cj = delta[j] - m * cycle
                    cands[k] = ((r * g_in[j] + r * cj - g_out[i] + delta[i]) / (1 + r)) % cycle
                    cands[k + 1] = ((g_in[j] + cj - r * g_out[i] + r * delta[i]) / (1 + r)) % cycle
                    k += 2
    choice = np.empty(n)
    best_choice = np.zeros(n)
    best = -1.0
    best_q = 0.0
    bo = 0.0
    bi = 0.0
    for c in range(cands.shape[0]):
        v, o, ii = _best_at(cands[c], delta, g_out, g_in, cycle, w_out, w_in, ratio, choice)
        if v > best + 1e-7:
            best = v
            best_q = cands[c]
            bo = o
            bi = ii
            best_choice[:] = choice
    offsets = np.empty(n)
    for i in range(n):
        e = best_choice[i]
        # outbound green start x in [b_out - g_out, 0] and x in [e + b_in - g_in, e]: take the middle
        lo = max(bo - g_out[i], e + bi - g_in[i])
        hi = min(0.0, e)
        x = 0.5 * (lo + hi)
        offsets[i] = (x - alpha[i]) % cycle
    bands = np.empty(2)
    bands[0] = bo
    bands[1] = bi
    _ = best_q
    # one-way waves: MAXBAND's two-way model needs a common green instant in both directions even
    # for a zero band; when one direction has none, aligning the other may still be worth more
    for direction in range(2):
        trial = (-alpha - delta * direction) % cycle
        tb = band_eval(trial, alpha, delta, g_out, g_in, cycle)
        if ratio > 0 and (tb[0] < ratio * tb[1] - 1e-9 or tb[1] < ratio * tb[0] - 1e-9):
            continue
        if w_out * tb[0] + w_in * tb[1] > w_out * bands[0] + w_in * bands[1] + 1e-7:
            offsets[:] = trial
            bands[:] = tb
    return offsets, bands
