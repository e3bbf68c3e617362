"""The sweep's plot: mean time loss against demand, one line per plan, with 95 % confidence bars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from simulation.sweep_stats import SummaryRow

METRIC = "mean_time_loss_s"


def plot_time_loss(rows: Sequence[SummaryRow], path: str | Path, title: str = "") -> Path:
    """Write the plot (PNG, matplotlib's Agg backend) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=120)
    try:
        plans = list(dict.fromkeys(r.plan for r in rows))
        for plan in plans:
            mine = sorted((r for r in rows if r.plan == plan), key=lambda r: r.demand_scale)
            x = [r.demand_scale for r in mine]
            stats = [r.metrics[METRIC] for r in mine]
            y = [s.mean for s in stats]
            err = [s.half_width if math.isfinite(s.half_width) else 0.0 for s in stats]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=plan)
        ax.set_xlabel("demand scale (x the scenario's flows)")
        ax.set_ylabel("mean time loss per vehicle (s)")
        ax.set_title(title or "time loss against demand (mean and 95 % CI over seeds)")
        ax.grid(True, alpha=0.3)
        ax.legend(title="plan")
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out
