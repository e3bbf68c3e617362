"""Time-space diagram of an arterial: signals by distance, red/green bars over a few cycles, and the
through bands of both directions, the picture engineers use to judge a green wave."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from signal_control.band_kernels import common_arc
from signal_control.bandwidth import band_problem
from signal_control.corridor import Corridor, green_window
from traffic.signal_plan import SignalPlan


def plot_time_space(corridor: Corridor, plans: Mapping[str, SignalPlan], path: str | Path, cycles: int = 3,
                    title: str = "") -> Path:
    """Draw the diagram to ``path`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cycle = plans[corridor.intersections[0]].cycle_s
    horizon = cycles * cycle
    fig, ax = plt.subplots(figsize=(10, 6))
    bar = 0.012 * max(corridor.positions_m[-1], 1.0)
    for iid, mv_out, mv_in, x in zip(corridor.intersections, corridor.outbound, corridor.inbound,
                                      corridor.positions_m, strict=True):
        plan = plans[iid]
        for mv, dy, colour in ((mv_out, -bar, "tab:green"), (mv_in, bar, "tab:olive")):
            start, dur = green_window(plan, mv)
            ax.broken_barh([(0, horizon)], (x + dy - bar / 2, bar), facecolors="tab:red", alpha=0.8)
            spans = [(plan.offset_s + start + k * cycle, dur) for k in range(-1, cycles + 1)]
            ax.broken_barh(spans, (x + dy - bar / 2, bar), facecolors=colour)
        ax.text(1.005 * horizon, x, iid, ha="left", va="center", fontsize=9)
    problem = band_problem(corridor, plans)
    offsets = np.array([plans[i].offset_s for i in corridor.intersections], dtype=np.float64)
    t_out = np.concatenate([[0.0], np.cumsum(corridor.out_link_s)])
    t_in = np.concatenate([[0.0], np.cumsum(corridor.in_link_s)])
    pos = np.array(corridor.positions_m)
    start_o, b_out = common_arc(offsets + problem.alpha, problem.g_out, cycle)
    start_i, b_in = common_arc(offsets + problem.alpha + problem.delta, problem.g_in, cycle)
    for k in range(-2, cycles + 2):
        if b_out > 0:
            t0 = start_o + k * cycle
            ax.fill(np.concatenate([t0 + t_out, (t0 + t_out + b_out)[::-1]]), np.concatenate([pos, pos[::-1]]),
                    color="tab:blue", alpha=0.25, label="outbound band" if k == 0 else None)
        if b_in > 0:
            t0 = start_i + k * cycle  # inbound band in signal 0's frame: reaches signal i t_in[i] earlier
            ax.fill(np.concatenate([t0 - t_in, (t0 - t_in + b_in)[::-1]]), np.concatenate([pos, pos[::-1]]),
                    color="tab:orange", alpha=0.25, label="inbound band" if k == 0 else None)
    ax.set_xlim(0, horizon)
    ax.set_ylim(pos[0] - 5 * bar, pos[-1] + 5 * bar)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("distance along the corridor (m)")
    ax.set_title(title or f"Time-space diagram, cycle {cycle:g} s: bands {b_out:.1f} s outbound "
                          f"({100 * b_out / cycle:.0f}%), {b_in:.1f} s inbound ({100 * b_in / cycle:.0f}%)")
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="tab:green", label="outbound green (lower bar)"),
                Patch(color="tab:olive", label="inbound green (upper bar)"), Patch(color="tab:red", label="red")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=5, fontsize=8, frameon=False)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
