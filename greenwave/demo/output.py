"""Files of the demo: delay-over-time and time-space PNGs, an HTML page and the JSON summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greenwave.demo.core import KINDS, DemoResult
from greenwave.demo.runs import SERIES_BIN_S
from signal_control.report import comparison_table, plot_delay_over_time, write_html


def summary(result: DemoResult) -> dict[str, Any]:
    """``{"adaptive": metrics, "best_fixed": metrics, "fixed": metrics, "report": path}`` plus context."""
    out: dict[str, Any] = {k: result.metrics(k) for k in KINDS}
    out["report"] = str(result.report) if result.report else None
    out["sd"] = {k: result.combined[k]["sd"] for k in KINDS}
    out["scenario"] = result.scenario.name
    out["seeds"] = list(result.config.seeds)
    out["plans_checked"] = result.plans_checked()
    out["unsafe_plans"] = len(result.unsafe_plans())
    out["files"] = [str(f) for f in result.files]
    return out


THROUGHPUT_ROWS = (("served (veh/h)", "served_veh_h"), ("queued at end (veh)", "queued_at_end_veh"),
                   ("queue growth (veh/h)", "queue_growth_veh_h"))


def table(result: DemoResult) -> str:
    """The comparison table, with throughput and queue growth (what matters above capacity)."""
    text = comparison_table({k: result.metrics(k) for k in KINDS}, {k: result.combined[k]["sd"] for k in KINDS})
    lines = text.split("\n")
    rows = [f"  {label:22s}" + "".join(f"{result.metrics(k)[key]:>22,.0f}" for k in KINDS)
            for label, key in THROUGHPUT_ROWS]
    at = next((i for i, line in enumerate(lines) if line.startswith("  adaptive vs")), len(lines))
    return "\n".join(lines[:at] + rows + lines[at:])


def write_report(result: DemoResult, out_dir: str | Path) -> Path:
    """Write the report files into ``out_dir``; returns the HTML page (also set on ``result``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = [plot_delay_over_time({k: result.series(k) for k in KINDS}, SERIES_BIN_S, out / "delay_over_time.png",
                                   result.scenario.begin_s)]
    final = result.final_adaptive_plans()
    notes = [f"scenario {result.scenario.name}, seeds {', '.join(map(str, result.config.seeds))}",
             f"{result.plans_checked()} adaptive plans safety-checked, {len(result.unsafe_plans())} unsafe",
             "best fixed plan: " + _plan_text(result.best_fixed),
             f"adaptive final plan (seed {result.config.seeds[0]}): " + _plan_text(final)]
    events = result.runs["adaptive"][0].events
    notes += [f"t={e['time_s']:.0f} s {e['intersection']}: {e['event']} ({e['reason']})" for e in events[:20]]
    if result.corridor is not None and len({p.cycle_s for p in final.values()}) == 1:
        from signal_control.tsd import plot_time_space

        cycle = next(iter(final.values())).cycle_s
        images.append(plot_time_space(result.corridor, final, out / "time_space_final.png",
                                      title=f"Adaptive controller's final plan (cycle {cycle:g} s)"))
    result.files = [*images, out / "report.html", out / "summary.json"]
    result.report = write_html(out / "report.html", f"Greenwave demo: {result.scenario.name}", table(result),
                               images, notes)
    (out / "summary.json").write_text(json.dumps(json_safe(summary(result)), indent=1), encoding="utf-8")
    return result.report


def _plan_text(plans: dict) -> str:
    return "; ".join(f"{iid} C={p.cycle_s:g} off={p.offset_s:g} g={'/'.join(f'{ph.green_s:g}' for ph in p.phases)}"
                     for iid, p in sorted(plans.items()))


def json_safe(obj: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    import math

    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
