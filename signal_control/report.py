"""The demo's report: a comparison table, delay over time for each controller, the time-space
diagram of the adaptive controller's final plan, written as PNGs and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROWS = (("mean time loss s", "mean_time_loss_s", 1), ("mean travel time s", "mean_travel_time_s", 1),
        ("mean waiting time s", "mean_waiting_time_s", 1), ("mean stops", "mean_stops", 2),
        ("arrived", "arrived", 0), ("teleports", "teleports", 0))
LABELS = {"adaptive": "adaptive", "best_fixed": "best fixed plan", "fixed": "scenario's own plan"}


def comparison_table(metrics: Mapping[str, Mapping[str, Any]], sd: Mapping[str, Mapping[str, Any] | None]) -> str:
    """Plain-text table: one column per controller, then adaptive's gain over each fixed plan."""
    kinds = list(metrics)
    head = f"  {'':22s}" + "".join(f"{LABELS.get(k, k):>22s}" for k in kinds)
    lines = [head]
    for label, key, digits in ROWS:
        cells = []
        for k in kinds:
            v = metrics[k][key]
            s = (sd.get(k) or {}).get(key)
            text = f"{v:,.{digits}f}" + (f" ±{s:.{digits}f}" if s and digits else "")
            cells.append(f"{text:>22s}")
        lines.append(f"  {label:22s}" + "".join(cells))
    if "adaptive" in metrics:
        a = metrics["adaptive"]["mean_time_loss_s"]
        for k in kinds:
            if k != "adaptive" and metrics[k]["mean_time_loss_s"]:
                lines.append(f"  adaptive vs {LABELS.get(k, k)}: "
                             f"{100 * (1 - a / metrics[k]['mean_time_loss_s']):+.1f}% less mean time loss")
    return "\n".join(lines)


def plot_delay_over_time(series: Mapping[str, Sequence[float]], bin_s: float, path: str | Path,
                         begin_s: float = 0.0) -> Path:
    """Mean time loss per departure bin for each controller (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for kind, values in series.items():
        t = [(begin_s + (k + 0.5) * bin_s) / 60.0 for k in range(len(values))]
        ax.plot(t, [v if math.isfinite(v) else float("nan") for v in values], marker="o", label=LABELS.get(kind, kind))
    ax.set_xlabel("departure time (min)")
    ax.set_ylabel("mean time loss (s)")
    ax.set_title(f"Delay over time ({bin_s / 60:g}-min bins, mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_html(path: str | Path, title: str, table: str, images: Sequence[Path], notes: Sequence[str]) -> Path:
    """One HTML page with the table, the images (embedded, so the page can be mailed) and notes."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}pre{background:#f4f4f4;"
             "padding:1em}img{max-width:100%}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><pre>{html.escape(table)}</pre>"]
    for img in images:
        data = base64.b64encode(Path(img).read_bytes()).decode("ascii")
        parts.append(f"<p><img alt='{html.escape(Path(img).stem)}' src='data:image/png;base64,{data}'></p>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
