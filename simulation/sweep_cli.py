"""``greenwave sweep``: plans x demand levels x seeds as simulation tasks on Dask; a table and a plot."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from greenwave.cli.common import (
    MAX_DURATION_S,
    MAX_SEEDS,
    add_scenario_arg,
    duration_arg,
    int_in,
    jobs_arg,
    max_jobs,
    output_file,
    scenario_with_plan,
    seeds_arg,
)
from traffic.errors import ScenarioError, TrafficError

# metrics shown first in the text table (the rest follow in the order the simulator reports them)
_FIRST = ("mean_time_loss_s", "mean_travel_time_s", "mean_waiting_time_s", "mean_stops", "mean_depart_delay_s")
_DIGITS = {"mean_stops": 2, "mean_depart_delay_s": 2}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run plans x demand levels x seeds as parallel simulation tasks on Dask",
                       description="Simulate every combination of plan, demand scale and seed as an independent "
                                   "task on a Dask cluster (a local one with --workers, or --scheduler), then print "
                                   "the mean and 95 % confidence interval (Student's t over seeds) of every "
                                   "metric per plan and demand level. Needs the 'dask' extra.")
    add_scenario_arg(p)
    p.add_argument("--plans", nargs="+", metavar="PLAN", default=None,
                   help="PLAN.json files or names of programs stored in the scenario (as 'greenwave simulate "
                        "--plan'); default: the scenario's active plans")
    p.add_argument("--seeds", type=seeds_arg, default=5, metavar="N",
                   help=f"seeds 1..N per plan and level (default 5, at most {MAX_SEEDS})")
    p.add_argument("--demand-scale", default="1.0", metavar="LIST",
                   help="comma-separated factors applied to every flow, e.g. 0.6,0.8,1.0,1.2 (default 1.0)")
    p.add_argument("--duration-s", type=duration_arg, default=None, metavar="T",
                   help=f"simulated time (at most {MAX_DURATION_S:g} s, seven days); default: until every "
                        "vehicle of the demand has arrived")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    where.add_argument("--workers", type=jobs_arg, default=None, metavar="K",
                       help=f"start a local cluster of K worker processes (default: one per CPU core; at most "
                            f"{max_jobs()})")
    p.add_argument("--retries", type=int_in(0, 100), default=2, metavar="R",
                   help="re-run a task that raised up to R times (default %(default)s); tasks on a lost worker "
                        "are re-run by the scheduler")
    p.add_argument("--plot", metavar="FILE.png", type=output_file((".png",)), default=None,
                   help="plot mean time loss against demand per plan")
    p.add_argument("--json", action="store_true", help="print one JSON object (summary and every run)")
    p.set_defaults(func=_sweep)


def parse_scales(text: str) -> list[float]:
    """``"0.6,0.8,1.0"`` -> ``[0.6, 0.8, 1.0]``; each a positive number, none twice."""
    scales = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ScenarioError(f"--demand-scale {text!r}: {item.strip()!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise ScenarioError(f"--demand-scale {text!r}: {item.strip()!r} must be a positive number")
        if value in scales:
            raise ScenarioError(f"--demand-scale {text!r}: {value:g} is given twice")
        scales.append(value)
    return scales


def _sweep(args: argparse.Namespace) -> int:
    from simulation.sweep import run_sweep
    from simulation.sweep_stats import summarise

    scales = parse_scales(args.demand_scale)
    _check_args(args)
    variants = _variants(args)
    seeds = list(range(1, args.seeds + 1))
    t0 = time.perf_counter()
    total = len(variants) * len(scales) * len(seeds)
    with _client(args.scheduler, args.workers) as client, _progress(total) as bar:
        workers = len(client.scheduler_info().get("workers", {}))
        results = run_sweep(client, variants, scales, seeds, duration_s=args.duration_s, retries=args.retries,
                            progress=lambda _: bar.update(1))
    wall_s = time.perf_counter() - t0
    rows = summarise(results)
    plot = None
    if args.plot:
        from simulation.sweep_plot import plot_time_loss

        title = f"{variants[0].scenario.name}: time loss against demand (mean, 95 % CI over seeds)"
        plot = str(plot_time_loss(rows, args.plot, title))
    head = {"scenario": variants[0].scenario.name, "plans": [v.label for v in variants],
            "demand_scales": scales, "seeds": seeds, "runs_total": total, "workers": workers,
            "wall_s": round(wall_s, 3), "plot": plot}
    if args.json:
        print(json.dumps(_document(head, rows, results), indent=1))
    else:
        print(_table(head, rows))
    return 0


def _check_args(args: argparse.Namespace) -> None:
    if len(set(args.plans or [])) != len(args.plans or []):
        raise ScenarioError(f"--plans: a plan is given twice ({' '.join(args.plans)})")


def _variants(args: argparse.Namespace) -> list[Any]:
    """Each plan argument resolved as ``greenwave simulate --plan`` resolves it (file or program name)."""
    from simulation.sweep import PlanVariant

    if not args.plans:
        scenario = scenario_with_plan(argparse.Namespace(scenario=args.scenario, plan=None))
        label = ",".join(sorted({scenario.active_plans[i] for i in scenario.intersections}))
        return [PlanVariant(label, scenario)]
    return [PlanVariant(plan, scenario_with_plan(argparse.Namespace(scenario=args.scenario, plan=plan)))
            for plan in args.plans]


@contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of worker processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise TrafficError("greenwave sweep needs Dask: pip install 'greenwave[dask]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler)  # waits distributed.comm.timeouts.connect (Dask config, default 30 s)
        except (OSError, ValueError) as exc:
            raise TrafficError(f"--scheduler {scheduler!r}: cannot connect ({' '.join(str(exc).split())})") from None
        with client:
            yield client
        return
    # one single-threaded process per worker: a simulation is pure Python and holds the GIL; a task's
    # error reaches the client anyway, so Dask's worker-side tracebacks are not printed
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    from tqdm import tqdm

    with tqdm(total=total, unit="run", desc="sweep", file=sys.stderr, disable=None, leave=False) as bar:
        yield bar


def _document(head: dict[str, Any], rows: list[Any], results: dict[Any, Any]) -> dict[str, Any]:
    from simulation.cli import _clean

    summary = [{"plan": r.plan, "demand_scale": r.demand_scale, "seeds": list(r.seeds),
                "metrics": {k: v.to_dict() for k, v in r.metrics.items()}} for r in rows]
    runs = [{"plan": c.plan, "demand_scale": c.demand_scale, "seed": c.seed, "wall_s": round(r.wall_s, 4),
             "metrics": r.metrics, "route_groups": r.route_groups} for c, r in sorted(results.items())]
    return _clean({**head, "summary": summary, "runs": runs})


def _table(head: dict[str, Any], rows: list[Any]) -> str:
    scales = head["demand_scales"]
    lines = [f"{head['scenario']}: {len(head['plans'])} plan(s) x {len(scales)} demand level(s) x "
             f"{len(head['seeds'])} seed(s) = {head['runs_total']} runs on {head['workers']} worker(s), "
             f"{head['wall_s']:.1f} s wall. Each cell: mean +- half-width of the 95 % confidence interval over seeds."]
    keys = list(rows[0].metrics)
    keys = [k for k in _FIRST if k in keys] + [k for k in keys if k not in _FIRST]
    width = max(12, *(len(p) for p in head["plans"]))
    cell = {(r.plan, r.demand_scale): r for r in rows}
    for key in keys:
        lines += ["", f"{key.replace('_', ' ')}", f"  {'plan':{width}s}" + "".join(f"{'x' + str(s):>20s}"
                                                                                   for s in scales)]
        digits = _DIGITS.get(key, 1 if key.startswith("mean_") else 0)
        for plan in head["plans"]:
            values = [_fmt(cell[(plan, s)].metrics[key], digits) for s in scales]
            lines.append(f"  {plan:{width}s}" + "".join(f"{v:>20s}" for v in values))
    if head["plot"]:
        lines += ["", f"plot: {head['plot']}"]
    return "\n".join(lines)


def _fmt(stat: Any, digits: int) -> str:
    if not math.isfinite(stat.mean):
        return "-"
    text = f"{stat.mean:,.{digits}f}"
    return text + (f" +- {stat.half_width:,.{max(digits, 1)}f}" if math.isfinite(stat.half_width) else "")
