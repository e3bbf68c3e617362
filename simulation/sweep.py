"""Parameter sweeps: every (plan, demand scale, seed) as an independent simulation task on Dask.

A task is a pure function of its inputs (``run_case``): the scenario with the plan active, the
demand scale and the seed give the same metrics on any worker. Tasks are submitted under keys
that name their case, and results are collected into a mapping keyed by case, so a task that
Dask runs again after losing a worker (or retries after an exception) yields its result exactly
once. The scenario is held by one task per plan (``_hold``) that the run tasks depend on: it
travels to each worker once, and Dask can recompute it if the worker holding it dies (scattered
data could not be).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

from simulation.engine import check_signals_to_run
from simulation.params import DEFAULT_PARAMS, SimParams
from simulation.runner import simulate
from traffic.errors import ScenarioError
from traffic.scenario import Scenario


@dataclass(frozen=True, order=True)
class SweepCase:
    """One run of a sweep: the plan's label, the demand scale and the seed."""

    plan: str
    demand_scale: float
    seed: int


@dataclass(frozen=True)
class PlanVariant:
    """A plan of the sweep: its label and the scenario with that plan active."""

    label: str
    scenario: Scenario


@dataclass(frozen=True)
class RunResult:
    """What one task returns: its case, the run's ``metrics`` and ``route_groups`` (as ``greenwave
    simulate --json`` prints them) and the task's wall time."""

    case: SweepCase
    metrics: dict[str, Any]
    route_groups: dict[str, dict[str, float]]
    wall_s: float


class SweepIncomplete(RuntimeError):
    """Some cases of a sweep have no result (should never happen: Dask reruns lost tasks)."""


def scale_demand(scenario: Scenario, factor: float) -> Scenario:
    """The scenario with every flow multiplied by ``factor`` (``Demand.scaled``).

    Raises:
        ScenarioError: ``factor`` is not a positive finite number, or the scenario has single trips,
            which have fixed departures and cannot be scaled.
    """
    if not math.isfinite(factor) or factor <= 0:
        raise ScenarioError(f"demand scale (={factor}) must be a positive number")
    if factor == 1.0:
        return scenario
    if scenario.demand.trips:
        raise ScenarioError(f"scenario {scenario.name!r} has {len(scenario.demand.trips)} single trips, which "
                            "cannot be scaled; demand scaling needs flows only")
    return replace(scenario, demand=scenario.demand.scaled(factor))


def run_case(scenario: Scenario, case: SweepCase, duration_s: float | None = None,
             params: SimParams = DEFAULT_PARAMS) -> RunResult:
    """One sweep task: ``simulate`` the scenario (its plan already active) at the case's scale and seed."""
    result = simulate(scale_demand(scenario, case.demand_scale), case.seed, params, duration_s=duration_s)
    return RunResult(case, result.metrics, result.route_groups, result.wall_s)


def sweep_cases(plans: Sequence[str], demand_scales: Sequence[float], seeds: Iterable[int]) -> list[SweepCase]:
    """Every combination, plan-major (plan, then scale, then seed)."""
    return [SweepCase(p, float(s), int(seed)) for p, s, seed in product(plans, demand_scales, list(seeds))]


def task_key(token: str, plan_index: int, case: SweepCase) -> str:
    """The Dask key of a case's task: unique within the sweep ``token``, and naming the case."""
    return f"gw-sweep-{token}-run-p{plan_index}-x{case.demand_scale!r}-s{case.seed}"


Task = Callable[..., RunResult]


def run_sweep(client: Any, variants: Sequence[PlanVariant], demand_scales: Sequence[float], seeds: Iterable[int],
              *, duration_s: float | None = None, params: SimParams = DEFAULT_PARAMS, retries: int = 2,
              progress: Callable[[RunResult], None] | None = None, task: Task = run_case) -> dict[SweepCase, RunResult]:
    """Run every (plan, scale, seed) on the Dask ``client``'s cluster; results keyed by case.

    Args:
        client: a ``distributed.Client``.
        retries: times Dask re-runs a task that raised (a worker lost while running a task is
            handled by the scheduler, which re-runs the task elsewhere up to its
            ``distributed.scheduler.allowed-failures``).
        progress: called once per case, with its result, as results arrive.
        task: the task function (``run_case``; tests inject one that kills its worker).

    Raises:
        The exception of a task that failed after its retries (the other tasks are cancelled).
    """
    from distributed import as_completed

    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        raise ScenarioError(f"plan labels must be unique: {labels}")
    for v in variants:  # every run validates its plans; refuse here, before any task is submitted
        check_signals_to_run(v.scenario)
    token = uuid.uuid4().hex[:10]
    held = {v.label: client.submit(_hold, v.scenario, key=f"gw-sweep-{token}-scenario-p{i}", pure=False)
            for i, v in enumerate(variants)}
    index = {label: i for i, label in enumerate(labels)}
    cases = sweep_cases(labels, demand_scales, seeds)
    case_of: dict[str, SweepCase] = {}
    pending: dict[str, Any] = {}
    for case in cases:
        key = task_key(token, index[case.plan], case)
        case_of[key] = case
        pending[key] = client.submit(task, held[case.plan], case, duration_s, params, key=key, retries=retries,
                                     pure=False)
    results: dict[SweepCase, RunResult] = {}
    try:
        for future in as_completed(list(pending.values())):
            case = case_of[future.key]
            result = future.result()
            pending.pop(future.key, None)
            future.release()  # the worker may drop it: the result is here now
            if result.case != case:
                raise SweepIncomplete(f"task {future.key} returned the result of {result.case}")
            if case in results:  # one result per key, whatever the cluster did
                continue
            results[case] = result
            if progress is not None:
                progress(result)
    finally:
        client.cancel([*pending.values(), *held.values()])
    missing = [c for c in cases if c not in results]
    if missing:
        raise SweepIncomplete(f"{len(missing)} of {len(cases)} runs have no result, e.g. {missing[0]}")
    return {c: results[c] for c in cases}


def run_sequential(variants: Sequence[PlanVariant], demand_scales: Sequence[float], seeds: Iterable[int], *,
                   duration_s: float | None = None, params: SimParams = DEFAULT_PARAMS) -> dict[SweepCase, RunResult]:
    """The same sweep in this process, one case after the other (the reference the tests compare with)."""
    by_label: Mapping[str, Scenario] = {v.label: v.scenario for v in variants}
    return {c: run_case(by_label[c.plan], c, duration_s, params)
            for c in sweep_cases(list(by_label), demand_scales, seeds)}


def _hold(scenario: Scenario) -> Scenario:
    """Holds the scenario in the cluster as a task result, so the run tasks receive it by reference."""
    return scenario
