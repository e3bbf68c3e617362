"""The simulator's fast paths do exactly what the plain forms they replace do (same events, same order, same
arithmetic), and a plain run imports only what it uses. Whole-scenario identity before/after a speed change:
``benchmarks/sim_identical.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import simpy

from simulation import Simulation
from simulation.engine import run_until
from simulation.routing import lane_choices
from tests.simulation.corridor import corridor
from traffic.scenario_io import load_scenario

REPO = Path(__file__).resolve().parents[2]


def _trace(run) -> list[tuple[float, str]]:
    """Processes that wake at equal times, by timeouts, events triggered during other callbacks and an
    interrupt: the order in which they run."""
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []

    def sleeper(name: str, delays: list[float]):
        for d in delays:
            try:
                yield env.timeout(d)
            except simpy.Interrupt:
                seen.append((env.now, f"{name} interrupted"))
            seen.append((env.now, name))

    gate = env.event()

    def waiter():
        yield gate
        seen.append((env.now, "waiter"))

    def opener(victim: simpy.Process):
        yield env.timeout(2.0)
        gate.succeed()
        victim.interrupt()
        seen.append((env.now, "opener"))

    a = env.process(sleeper("a", [1.0, 1.0, 0.5]))
    env.process(sleeper("b", [2.0, 0.5, 0.0]))
    env.process(waiter())
    env.process(opener(a))
    env.process(sleeper("c", [10.0]))
    done = env.timeout(3.0)
    run(env, done | env.timeout(5.0))
    seen.append((env.now, "end"))
    return seen


def test_run_until_processes_events_in_simpys_order():
    assert _trace(run_until) == _trace(lambda env, until: env.run(until=until))


def test_run_until_returns_at_once_for_an_event_already_processed():
    env = simpy.Environment()
    done = env.timeout(1.0)
    env.run(until=done)
    env.timeout(5.0)
    run_until(env, done)
    assert env.now == 1.0


def _departures(sim: Simulation) -> list[tuple[float, str, int]]:
    assert sim.departures is not None
    return sim.departures


def test_discharge_is_leave_lane_then_cross():
    """A stop-line crossing is ``leave_lane`` then ``cross``: a probe on ``leave_lane`` sees every crossing and
    leaves the run as it was."""
    scenario = corridor(flow_veh_h=900.0, trips=[5.0 + 2.0 * k for k in range(30)], horizon_s=900.0)
    fast = Simulation(scenario, seed=3, record_departures=True, detector_interval_s=120.0).run()
    plain = Simulation(scenario, seed=3, record_departures=True, detector_interval_s=120.0)
    leave = plain.leave_lane
    seen = []

    def probe(*args, **kwargs):
        seen.append(args[3])
        leave(*args, **kwargs)

    plain.leave_lane = probe  # type: ignore[method-assign]
    plain.run()
    assert len(seen) == len(_departures(plain)) > 0
    assert _departures(fast) == _departures(plain)
    assert fast.log.time_loss_s == plain.log.time_loss_s
    assert fast.log.stops == plain.log.stops
    assert fast.group_stats() == plain.group_stats()
    assert [h.queues_veh for h in fast.detectors.history] == [h.queues_veh for h in plain.detectors.history]


def test_shared_lane_tables_equal_the_tables_of_each_route():
    sim = Simulation(load_scenario("grid"), seed=1, duration_s=1.0)
    movements = sim.scenario.network.movements
    assert len(sim._leg_tables) < sum(len(m) for m in sim.route_moves)  # routes do share legs
    for moves, tables in zip(sim.route_moves, sim.route_lanes, strict=True):
        assert tables == lane_choices(movements, moves, sim.params.lane_change_s)


def test_a_plain_run_from_the_cli_imports_only_what_it_uses():
    """``greenwave simulate`` without a terminal draws no progress bar and runs no stage control: it imports
    neither (start-up time is what a user of a small scenario waits for)."""
    probe = ("import contextlib, io, sys\n"
             "from greenwave.cli.main import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    main(['simulate', 'isolated_x050', '--duration-s', '120', '--json'])\n"
             "import json\n"
             "print(json.dumps(sorted(m for m in ('tqdm', 'simulation.stage_control', 'simulation.detector_layout')"
             " if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO,
                         stdin=subprocess.DEVNULL)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
