"""Numba kernels of the TRANSYT-style performance index and its hill-climb.

Plain contiguous arrays and scalars in and out, no domain objects (the arrays are built by
:mod:`signal_control.network_model`); the pure-Python twin used by the tests and the speed
benchmark is :func:`signal_control.reference.network_pi_py`.

One stream per movement; arrivals are the dispersed (Robertson) departures of the upstream
streams feeding its link plus a uniform external part; a deterministic queue over the cycle in
1-step slices gives uniform delay, stops and the departure profile; a random/over-saturation term
(HCM d2, T = 0.25 h) is added. :func:`network_pi` evaluates the whole network; :func:`climb` does
coordinate hill-climbing over offsets and splits, re-evaluating only the streams a change touches.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EPS = 1e-9


# --- delay (TRANSYT-style) ----------------------------------------------------------------------

@njit(cache=True)
def _add_arc(frac, lo, hi, cycle, dt):
    """Add the green time of [lo, hi) (seconds, any real lo) to the per-step fractions."""
    k = frac.shape[0]
    length = min(hi - lo, cycle)
    if length <= 0:
        return
    lo = lo % cycle
    t0 = int(np.floor(lo / dt))
    t = t0
    while t * dt < lo + length - EPS:
        a = max(lo, t * dt)
        b = min(lo + length, (t + 1) * dt)
        if b > a:
            idx = t % k
            frac[idx] = min(1.0, frac[idx] + (b - a) / dt)
        t += 1


@njit(cache=True)
def green_fraction(j, offsets, greens, inters, ph_ptr, st_sig, st_mask, cycle, dt, lost_start, yellow_used, frac):
    """Per-step effective-green fraction of stream j under the current offsets and greens."""
    frac[:] = 0.0
    s = st_sig[j]
    p0 = ph_ptr[s]
    npk = ph_ptr[s + 1] - p0
    mask = st_mask[j]
    start = offsets[s]
    for p in range(npk):
        if (mask >> p) & 1:
            prev_on = (mask >> ((p - 1) % npk)) & 1
            next_on = (mask >> ((p + 1) % npk)) & 1
            lo = start + (0.0 if prev_on and npk > 1 else lost_start)
            hi = start + greens[p0 + p] + (inters[p0 + p] if next_on and npk > 1 else min(yellow_used, inters[p0 + p]))
            _add_arc(frac, lo, hi, cycle, dt)
        start += greens[p0 + p] + inters[p0 + p]


@njit(cache=True)
def eval_stream(j, offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow,
                fd_ptr, fd_src, fd_frac, fd_shift, fd_disp, out, cycle, dt, lost_start, yellow_used,
                stop_penalty_s, frac, arr, disp):
    """Arrivals, queue and departures of stream j over one cycle; writes ``out[j]``, returns its PI."""
    k = out.shape[1]
    for t in range(k):
        arr[t] = ext[j] * dt
    for f in range(fd_ptr[j], fd_ptr[j + 1]):
        src = fd_src[f]
        shift = fd_shift[f]
        F = fd_disp[f]
        mean = 0.0
        for t in range(k):
            mean += out[src, t]
        mean /= k
        disp[(shift - 1) % k] = mean
        for tt in range(2 * k):
            idx = (tt + shift) % k
            disp[idx] = F * out[src, tt % k] + (1.0 - F) * disp[(idx - 1) % k]
        for t in range(k):
            arr[t] += fd_frac[f] * disp[t]
    green_fraction(j, offsets, greens, inters, ph_ptr, st_sig, st_mask, cycle, dt, lost_start, yellow_used, frac)
    cap_step = sat[j] * dt
    q = 0.0
    delay = 0.0
    stops = 0.0
    g_sum = 0.0
    for rep in range(2):
        delay = 0.0
        stops = 0.0
        g_sum = 0.0
        for t in range(k):
            c = cap_step * frac[t]
            g_sum += frac[t]
            a = arr[t]
            dep = min(q + a, c)
            q_new = q + a - dep
            delay += 0.5 * (q + q_new) * dt
            stops += min(a, q_new)
            q = q_new
            if rep == 1:
                out[j, t] = dep
    cap_h = sat[j] * 3600.0 * g_sum / k
    pi = delay / cycle
    if flow[j] > 0:
        if cap_h <= 0:
            return 1e6 * flow[j]
        x = flow[j] * 3600.0 / cap_h
        period = 0.25
        d2 = 900.0 * period * ((x - 1.0) + np.sqrt((x - 1.0) ** 2 + 4.0 * x / (cap_h * period)))
        pi += flow[j] * d2
    return pi + stop_penalty_s * stops / cycle


@njit(cache=True)
def network_pi(offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow,
               fd_ptr, fd_src, fd_frac, fd_shift, fd_disp, cycle, steps, lost_start, yellow_used,
               stop_penalty_s, sweeps, warm, out, pi_st):
    """Performance index of the whole network (veh-s per s): ``sweeps`` passes over all streams.

    ``out`` (streams x steps) is filled with departure profiles and ``pi_st`` with each stream's
    contribution. Unless ``warm`` (continue from the profiles already in ``out``), every stream
    starts from a uniform departure profile at its demand, so streams evaluated before their
    upstream ones see the right mean flow.
    """
    n = st_sig.shape[0]
    dt = cycle / steps
    if not warm:
        for j in range(n):
            out[j, :] = flow[j] * dt
    frac = np.zeros(steps)
    arr = np.zeros(steps)
    disp = np.zeros(steps)
    total = 0.0
    for _ in range(sweeps):
        total = 0.0
        for j in range(n):
            pi_st[j] = eval_stream(j, offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow,
                                   fd_ptr, fd_src, fd_frac, fd_shift, fd_disp, out, cycle, dt, lost_start,
                                   yellow_used, stop_penalty_s, frac, arr, disp)
            total += pi_st[j]
    return total


@njit(cache=True)
def _local(s, offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow, fd_ptr, fd_src, fd_frac,
           fd_shift, fd_disp, out, pi_st, aff_ptr, aff_idx, cycle, dt, lost_start, yellow_used, stop_penalty_s,
           frac, arr, disp, bk_out, bk_pi):
    """Re-evaluate the streams signal s affects (its own, then those they feed); back up the old state."""
    delta = 0.0
    for a in range(aff_ptr[s], aff_ptr[s + 1]):
        j = aff_idx[a]
        r = a - aff_ptr[s]
        bk_out[r, :] = out[j, :]
        bk_pi[r] = pi_st[j]
        new = eval_stream(j, offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow, fd_ptr, fd_src,
                          fd_frac, fd_shift, fd_disp, out, cycle, dt, lost_start, yellow_used, stop_penalty_s,
                          frac, arr, disp)
        delta += new - pi_st[j]
        pi_st[j] = new
    return delta


@njit(cache=True)
def _restore(s, out, pi_st, aff_ptr, aff_idx, bk_out, bk_pi):
    for a in range(aff_ptr[s], aff_ptr[s + 1]):
        j = aff_idx[a]
        r = a - aff_ptr[s]
        out[j, :] = bk_out[r, :]
        pi_st[j] = bk_pi[r]


@njit(cache=True)
def climb(offsets, greens, min_greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow,
          fd_ptr, fd_src, fd_frac, fd_shift, fd_disp, aff_ptr, aff_idx, cycle, steps, lost_start, yellow_used,
          stop_penalty_s, sweeps, offset_steps, split_steps, max_passes, out, pi_st):
    """Coordinate hill-climbing over offsets and splits (in place); returns the final network PI.

    Each trial moves one signal's offset by +-step, or moves ``step`` seconds of green between two
    consecutive phases of one signal (never below ``min_greens``), re-evaluates only the streams it
    touches and keeps it if the PI falls. Passes repeat until none improves (or ``max_passes``);
    the result is re-evaluated in full.
    """
    n_sig = offsets.shape[0]
    dt = cycle / steps
    frac = np.zeros(steps)
    arr = np.zeros(steps)
    disp = np.zeros(steps)
    width = 1
    for s in range(n_sig):
        width = max(width, aff_ptr[s + 1] - aff_ptr[s])
    bk_out = np.zeros((width, steps))
    bk_pi = np.zeros(width)
    network_pi(offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow, fd_ptr, fd_src, fd_frac,
               fd_shift, fd_disp, cycle, steps, lost_start, yellow_used, stop_penalty_s, sweeps, False, out, pi_st)
    for _ in range(max_passes):
        improved = False
        for s in range(n_sig):
            for step in offset_steps:
                for sign in (1.0, -1.0):
                    old = offsets[s]
                    offsets[s] = (old + sign * step) % cycle
                    d = _local(s, offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow, fd_ptr, fd_src,
                               fd_frac, fd_shift, fd_disp, out, pi_st, aff_ptr, aff_idx, cycle, dt, lost_start,
                               yellow_used, stop_penalty_s, frac, arr, disp, bk_out, bk_pi)
                    if d < -1e-9:
                        improved = True
                    else:
                        offsets[s] = old
                        _restore(s, out, pi_st, aff_ptr, aff_idx, bk_out, bk_pi)
            p0 = ph_ptr[s]
            npk = ph_ptr[s + 1] - p0
            if npk < 2:
                continue
            for step in split_steps:
                for p in range(npk):
                    for sign in (1.0, -1.0):
                        a = p0 + p
                        b = p0 + (p + 1) % npk
                        if sign < 0:
                            a, b = b, a
                        if greens[b] - step < min_greens[b] - EPS:
                            continue
                        greens[a] += step
                        greens[b] -= step
                        d = _local(s, offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow, fd_ptr,
                                   fd_src, fd_frac, fd_shift, fd_disp, out, pi_st, aff_ptr, aff_idx, cycle, dt,
                                   lost_start, yellow_used, stop_penalty_s, frac, arr, disp, bk_out, bk_pi)
                        if d < -1e-9:
                            improved = True
                        else:
                            greens[a] -= step
                            greens[b] += step
                            _restore(s, out, pi_st, aff_ptr, aff_idx, bk_out, bk_pi)
        if not improved:
            break
    return network_pi(offsets, greens, inters, ph_ptr, st_sig, st_mask, sat, ext, flow, fd_ptr, fd_src, fd_frac,
                      fd_shift, fd_disp, cycle, steps, lost_start, yellow_used, stop_penalty_s, sweeps, False, out,
                      pi_st)
