"""Entry points: one seeded run, or many seeds in series or in parallel processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulation.engine import PlanDecider, Simulation, check_signals_to_run
from simulation.metrics import combine_seeds, run_metrics
from simulation.params import DEFAULT_PARAMS, SimParams
from traffic.control import Controller
from traffic.plan_validation import DEFAULT_RULES, ValidationRules
from traffic.scenario import Scenario

if TYPE_CHECKING:
    from simulation.stage_control import StageControlSpec


@dataclass(frozen=True)
class SimulationResult:
    """Metrics of one run (``metrics``, ``lane_groups``, ``route_groups``) and its wall time."""

    seed: int
    metrics: dict[str, Any]
    lane_groups: list[dict[str, Any]]
    route_groups: dict[str, dict[str, float]]
    wall_s: float
    plan_changes: list[tuple[float, str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "lane_groups": self.lane_groups, "route_groups": self.route_groups}


def simulate(scenario: Scenario, seed: int = 1, params: SimParams = DEFAULT_PARAMS, *,
             duration_s: float | None = None, detector_interval_s: float | None = None,
             controller: PlanDecider | Controller | None = None,
             progress: Callable[[float], None] | None = None,
             stage_control: StageControlSpec | None = None,
             rules: ValidationRules | None = DEFAULT_RULES) -> SimulationResult:
    """Run the scenario's active plans (and the controller, if any) once with ``seed``.

    ``stage_control`` runs the signals it names under a stage controller instead of their plans.
    Raises ``PlanValidationError`` before anything runs if a plan or stage breaks ``rules``.
    ``progress`` is called with the simulated time every simulated minute.
    """
    t0 = time.perf_counter()
    sim = Simulation(scenario, seed, params, duration_s=duration_s, detector_interval_s=detector_interval_s,
                     controller=controller, progress=progress, stage_control=stage_control, rules=rules).run()
    out = run_metrics(sim)
    return SimulationResult(seed, out["metrics"], out["lane_groups"], out["route_groups"],
                            time.perf_counter() - t0, sim.plan_changes)


def _one(args: tuple[Scenario, int, SimParams, float | None, float | None, ValidationRules | None]
         ) -> dict[str, Any]:
    scenario, seed, params, duration_s, detector_interval_s, rules = args
    return simulate(scenario, seed, params, duration_s=duration_s, detector_interval_s=detector_interval_s,
                    rules=rules).as_dict()


def simulate_seeds(scenario: Scenario, seeds: Iterable[int], params: SimParams = DEFAULT_PARAMS, *,
                   duration_s: float | None = None, jobs: int = 1, progress: Any = None,
                   detector_interval_s: float | None = None,
                   rules: ValidationRules | None = DEFAULT_RULES) -> dict[str, Any]:
    """Run every seed and combine them (means, with standard deviations under ``sd``).

    ``jobs > 1`` runs seeds in that many processes; results are identical to a serial run.
    ``progress`` is an optional callable called once per finished seed. With
    ``detector_interval_s``, each lane group also reports ``queue_veh``: its queue at the end of
    every interval (mean over seeds). Raises ``PlanValidationError`` before any run if an active plan
    breaks ``rules``.
    """
    check_signals_to_run(scenario, rules=rules)
    seeds = list(seeds)
    tasks = [(scenario, s, params, duration_s, detector_interval_s, rules) for s in seeds]
    runs: list[dict[str, Any]] = []
    if jobs > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for r in pool.map(_one, tasks):
                runs.append(r)
                if progress:
                    progress()
    else:
        for task in tasks:
            runs.append(_one(task))
            if progress:
                progress()
    combined = combine_seeds(runs) if len(runs) > 1 else {**runs[0], "sd": None}
    combined["runs"] = runs
    return combined
