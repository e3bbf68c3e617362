"""Pure-Python twins of :mod:`signal_control.band_kernels` and :mod:`signal_control.delay_kernels`,
written independently for the tests.

They compute the same objectives by the most direct route (lists, no Numba) so that the tests can
prove the kernels right and the speed benchmark can measure what compilation buys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def common_arc_py(starts: Sequence[float], lengths: Sequence[float], cycle: float) -> float:
    """Longest interval inside every arc [s_i, s_i + l_i) mod cycle.

    A longest common interval can always be taken to start where one of the arcs starts, so try
    each arc start and take the shortest remaining green of all arcs there.
    """
    best = 0.0
    for p in starts:
        band = math.inf
        for s, length in zip(starts, lengths, strict=True):
            into = (p - s) % cycle
            if into > cycle - 1e-9:
                into = 0.0
            band = min(band, length - into if into < length else 0.0)
        best = max(best, band)
    return best


def band_eval_py(offsets: Sequence[float], alpha: Sequence[float], delta: Sequence[float],
                 g_out: Sequence[float], g_in: Sequence[float], cycle: float) -> tuple[float, float]:
    """Outbound and inbound bandwidth (s) of given offsets."""
    x = [o + a for o, a in zip(offsets, alpha, strict=True)]
    return common_arc_py(x, g_out, cycle), common_arc_py([v + d for v, d in zip(x, delta, strict=True)], g_in, cycle)


def network_pi_py(net: dict, offsets: Sequence[float], greens: Sequence[float], sweeps: int) -> float:
    """TRANSYT-style performance index (veh-s per s) of the network arrays in ``net`` (see ``NetworkArrays``).

    ``net`` holds plain lists: ``ph_ptr, inters, st_sig, st_mask, sat, ext, flow, fd_ptr, fd_src,
    fd_frac, fd_shift, fd_disp`` and scalars ``cycle, steps, lost_start, yellow_used, stop_penalty_s``.
    """
    cycle, k = net["cycle"], net["steps"]
    dt = cycle / k
    n = len(net["st_sig"])
    out = [[net["flow"][j] * dt] * k for j in range(n)]  # uniform start at each stream's demand
    total = 0.0
    for _ in range(sweeps):
        total = 0.0
        for j in range(n):
            arrivals = [net["ext"][j] * dt] * k
            for f in range(net["fd_ptr"][j], net["fd_ptr"][j + 1]):
                spread = _disperse(out[net["fd_src"][f]], net["fd_shift"][f], net["fd_disp"][f])
                arrivals = [a + net["fd_frac"][f] * d for a, d in zip(arrivals, spread, strict=True)]
            green = _green_py(net, j, offsets, greens, dt)
            pi, out[j] = _queue_py(net, j, arrivals, green, dt)
            total += pi
    return total


def _disperse(profile: list[float], shift: int, factor: float) -> list[float]:
    """Robertson's platoon dispersion on a cyclic profile (two turns of the recurrence)."""
    k = len(profile)
    d = [0.0] * k
    d[(shift - 1) % k] = sum(profile) / k
    for t in range(2 * k):
        i = (t + shift) % k
        d[i] = factor * profile[t % k] + (1 - factor) * d[(i - 1) % k]
    return d


def _green_py(net: dict, j: int, offsets: Sequence[float], greens: Sequence[float], dt: float) -> list[float]:
    cycle, k = net["cycle"], net["steps"]
    s = net["st_sig"][j]
    p0, p1 = net["ph_ptr"][s], net["ph_ptr"][s + 1]
    npk = p1 - p0
    on = [(net["st_mask"][j] >> p) & 1 == 1 for p in range(npk)]
    frac = [0.0] * k
    start = offsets[s]
    for p in range(npk):
        g, inter = greens[p0 + p], net["inters"][p0 + p]
        if on[p]:
            lo = start + (0.0 if on[(p - 1) % npk] and npk > 1 else net["lost_start"])
            hi = start + g + (inter if on[(p + 1) % npk] and npk > 1 else min(net["yellow_used"], inter))
            for t in range(k):
                # overlap of step [t dt, (t+1) dt) with the arc, trying the arc's copies a cycle apart
                for shift in (-2, -1, 0, 1, 2):
                    a = max(t * dt, lo + shift * cycle)
                    b = min((t + 1) * dt, min(hi, lo + cycle) + shift * cycle)
                    if b > a:
                        frac[t] = min(1.0, frac[t] + (b - a) / dt)
        start += g + inter
    return frac


def _queue_py(net: dict, j: int, arrivals: list[float], green: list[float], dt: float) -> tuple[float, list[float]]:
    cycle = net["cycle"]
    cap = net["sat"][j] * dt
    q = 0.0
    delay = stops = 0.0
    out: list[float] = []
    for _ in range(2):
        delay = stops = 0.0
        out = []
        for a, g in zip(arrivals, green, strict=True):
            dep = min(q + a, cap * g)
            q_new = q + a - dep
            delay += (q + q_new) / 2 * dt
            stops += min(a, q_new)
            out.append(dep)
            q = q_new
    pi = delay / cycle
    flow = net["flow"][j]
    if flow > 0:
        cap_h = net["sat"][j] * 3600.0 * sum(green) / len(green)
        if cap_h <= 0:
            return 1e6 * flow, out
        x = flow * 3600.0 / cap_h
        pi += flow * 900 * 0.25 * ((x - 1) + math.sqrt((x - 1) ** 2 + 4 * x / (cap_h * 0.25)))
    return pi + net["stop_penalty_s"] * stops / cycle, out
