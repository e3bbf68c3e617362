"""``greenwave demo``: the time-varying arterial under three controllers, side by side.

* ``fixed``: the scenario's own plans (what the city runs today);
* ``best_fixed``: the best single plan Greenwave's optimiser makes offline for the average demand
  of the whole scenario (the same optimiser and saturation flows the adaptive controller uses);
* ``adaptive``: the adaptive controller in the loop with the simulator's detectors, with
  ``best_fixed`` as its time-of-day plan (its baseline and failsafe); by default its plans run
  coordinated-actuated (``signal_control.coordinated_actuated``: side stages served on call, gap-out,
  early return to the arterial's green), as SCATS-class systems run theirs; ``actuated=None`` runs
  the plans as fixed time between re-plans.

Seeds run in a process pool (each task builds its own controller, so results equal a serial run).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greenwave.demo.runs import SERIES_BIN_S, CameraFeed, RunResult, run_adaptive, run_fixed
from signal_control.adaptive import AdaptiveParams, TimeOfDayPlan, scenario_design_veh_h
from signal_control.coordinated_actuated import ActuatedParams
from signal_control.optimize import optimize
from simulation.engine import check_signals_to_run
from simulation.metrics import combine_seeds
from traffic.errors import ModelError
from traffic.scenario import Scenario
from traffic.scenario_io import load_scenario
from traffic.signal_plan import SignalPlan

KINDS = ("adaptive", "best_fixed", "fixed")
DEFAULT_SCENARIO = "arterial_timevarying"


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs. ``duration_s`` None: the whole scenario (3 h for the default one)."""

    scenario: str = DEFAULT_SCENARIO
    seeds: tuple[int, ...] = (1, 2, 3)
    duration_s: float | None = None
    detector_interval_s: float = 300.0
    params: AdaptiveParams = field(default_factory=AdaptiveParams)
    jobs: int = 2
    camera: CameraFeed | None = None
    """A real camera's counts for one intersection, fed to the adaptive controller instead of its
    simulated detector (presence at the stop lines, for actuation, stays the simulator's)."""
    actuated: ActuatedParams | None = field(default_factory=ActuatedParams)
    """How the adaptive controller's plans run within each cycle; None: as fixed time."""
    corridor: tuple[str, ...] | None = None
    """Signals to coordinate, outbound order (best fixed plan and adaptive controller); default the busiest
    straight chain, none where the network has none."""

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ModelError("the demo needs at least one seed")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ModelError(f"duration_s (={self.duration_s}) must be > 0")
        if not self.detector_interval_s > 0:
            raise ModelError(f"detector_interval_s (={self.detector_interval_s}) must be > 0")
        if self.jobs < 1:
            raise ModelError(f"jobs (={self.jobs}) must be >= 1")


@dataclass
class DemoResult:
    """Per controller: metrics (means over seeds, with ``sd``), delay series, and the runs."""

    scenario: Scenario
    config: DemoConfig
    best_fixed: dict[str, SignalPlan]
    corridor: Any
    combined: dict[str, dict[str, Any]]
    runs: dict[str, list[RunResult]]
    report: Path | None = None
    files: list[Path] = field(default_factory=list)

    def metrics(self, kind: str) -> dict[str, Any]:
        return self.combined[kind]["metrics"]

    def series(self, kind: str) -> list[float]:
        """Mean over seeds of the per-bin mean time loss (bins of ``SERIES_BIN_S``)."""
        rows = [r.series_time_loss_s for r in self.runs[kind]]
        n = min(len(r) for r in rows)
        return [sum(r[k] for r in rows) / len(rows) for k in range(n)]

    def final_adaptive_plans(self) -> dict[str, SignalPlan]:
        return self.runs["adaptive"][0].final_plans

    def unsafe_plans(self) -> list[str]:
        return [p for r in self.runs["adaptive"] for p in r.unsafe]

    def plans_checked(self) -> int:
        return sum(r.plans_checked for r in self.runs["adaptive"])


def best_fixed_plans(scenario: Scenario, params: AdaptiveParams) -> tuple[dict[str, SignalPlan], Any]:
    """The optimiser's plans for the scenario's average demand (and the corridor it coordinated)."""
    result = optimize(scenario, params.method, corridor=params.corridor, webster=params.webster, name="best_fixed")
    return dict(result.plans), result.corridor


def _task(args: tuple[str, Scenario, dict[str, SignalPlan], int, DemoConfig]) -> RunResult:
    kind, scenario, best, seed, cfg = args
    if kind == "fixed":
        return run_fixed(scenario, kind, seed, cfg.duration_s)
    with_best = scenario.with_plans(best)
    if kind == "best_fixed":
        return run_fixed(with_best, kind, seed, cfg.duration_s)
    tod = [TimeOfDayPlan(0.0, "best_fixed", best, scenario_design_veh_h(scenario))]  # made for the average demand
    return run_adaptive(with_best, tod, seed, cfg.params,
                        duration_s=cfg.duration_s, detector_interval_s=cfg.detector_interval_s, camera=cfg.camera,
                        actuated=cfg.actuated)


def run_demo(config: DemoConfig, progress: Callable[[str], None] | None = None) -> DemoResult:
    """Run the three controllers over ``config.seeds`` (no files written; see ``signal_control.report``)."""
    scenario = load_scenario(config.scenario)
    check_signals_to_run(scenario)  # the scenario's own plans run as 'fixed': refuse them before anything runs
    if config.camera is not None and config.camera.intersection not in scenario.intersections:
        raise ModelError(f"the camera's intersection {config.camera.intersection!r} is not a signal of "
                         f"{scenario.name!r} ({', '.join(scenario.intersections)})")
    if config.corridor:
        config = replace(config, params=replace(config.params, corridor=tuple(config.corridor)))
    best, corridor = best_fixed_plans(scenario, config.params)
    tasks = [(kind, scenario, best, seed, config) for kind in KINDS for seed in config.seeds]
    runs: dict[str, list[RunResult]] = {k: [] for k in KINDS}
    if config.jobs > 1 and len(tasks) > 1:
        with cf.ProcessPoolExecutor(max_workers=config.jobs) as pool:
            for r in pool.map(_task, tasks):
                runs[r.kind].append(r)
                if progress:
                    progress(f"{r.kind} seed {r.seed}")
    else:
        for t in tasks:
            r = _task(t)
            runs[r.kind].append(r)
            if progress:
                progress(f"{r.kind} seed {r.seed}")
    combined = {}
    for kind, rs in runs.items():
        blocks = [{"metrics": r.metrics, "lane_groups": [], "route_groups": {}} for r in rs]
        c: dict[str, Any] = combine_seeds(blocks) if len(blocks) > 1 else {"metrics": blocks[0]["metrics"], "sd": None}
        combined[kind] = {"metrics": c["metrics"], "sd": (c["sd"] or {}).get("metrics")}
    return DemoResult(scenario, config, best, corridor, combined, runs)


def gain_pct(result: DemoResult, kind: str, against: str, key: str = "mean_time_loss_s") -> float:
    """How much lower ``kind``'s figure is than ``against``'s, in percent."""
    a, b = result.metrics(kind)[key], result.metrics(against)[key]
    return 100.0 * (1.0 - a / b) if b else 0.0


__all__ = ["DEFAULT_SCENARIO", "KINDS", "SERIES_BIN_S", "DemoConfig", "DemoResult", "best_fixed_plans", "gain_pct",
           "run_demo"]
