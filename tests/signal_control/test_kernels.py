"""Numba kernels against their pure-Python twins, and bandwidth optimality."""

from __future__ import annotations

import numpy as np
import pytest

from signal_control import band_kernels
from signal_control.delay import hill_climb
from signal_control.movement_demand import movement_demand
from signal_control.network_model import build_arrays
from signal_control.params import SUMO_MICRO, DelayParams
from signal_control.reference import band_eval_py, network_pi_py
from traffic.scenario_io import load_scenario


def random_arterial(rng: np.random.Generator, n: int, cycle: float):
    g_out = rng.uniform(0.3, 0.7, n) * cycle
    g_in = rng.uniform(0.3, 0.7, n) * cycle
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(150, 600, n - 1) / rng.uniform(10, 17))])
    alpha = rng.uniform(0, cycle, n) - t
    delta = rng.uniform(0, cycle, n) + t - alpha
    return alpha, delta, g_out, g_in


@pytest.mark.parametrize("seed", range(8))
def test_band_eval_equals_python_twin(seed):
    rng = np.random.default_rng(seed)
    n, cycle = int(rng.integers(2, 13)), float(rng.integers(40, 121))
    alpha, delta, g_out, g_in = random_arterial(rng, n, cycle)
    offsets = rng.uniform(0, cycle, n)
    got = band_kernels.band_eval(offsets, alpha, delta, g_out, g_in, cycle)
    assert got.tolist() == pytest.approx(band_eval_py(offsets, alpha, delta, g_out, g_in, cycle), abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_band_solve_reaches_what_it_reports_and_beats_random_offsets(seed):
    rng = np.random.default_rng(100 + seed)
    n, cycle = int(rng.integers(2, 10)), float(rng.integers(40, 121))
    alpha, delta, g_out, g_in = random_arterial(rng, n, cycle)
    offsets, bands = band_kernels.band_solve(alpha, delta, g_out, g_in, cycle, 1.0, 1.0, 0.0)
    assert band_eval_py(offsets, alpha, delta, g_out, g_in, cycle) == pytest.approx(bands.tolist(), abs=1e-7)
    best_random = max(sum(band_eval_py(rng.uniform(0, cycle, n), alpha, delta, g_out, g_in, cycle))
                      for _ in range(300))
    assert bands.sum() >= best_random - 1e-9


@pytest.mark.parametrize("n", [2, 5, 8])
def test_symmetric_arterial_half_cycle_travel_gives_full_green_both_ways(n):
    """Equal spacings with travel time = C/2: alternating offsets (0, C/2, 0, ...) carry the whole
    green in both directions, and no band can exceed the green, so the optimum is b = g both ways."""
    cycle, green = 80.0, 36.0
    t = np.arange(n) * cycle / 2
    alpha = 0.0 - t                      # outbound green starts at cycle position 0 everywhere
    delta = (0.0 + t) - alpha            # inbound green also starts at 0
    g = np.full(n, green)
    offsets, bands = band_kernels.band_solve(alpha, delta, g, g, cycle, 1.0, 1.0, 0.5)
    assert bands.tolist() == pytest.approx([green, green], abs=1e-7)
    rel = (offsets - offsets[0]) % cycle
    assert rel.tolist() == pytest.approx([(cycle / 2) * (i % 2) for i in range(n)], abs=1e-6)


@pytest.fixture(scope="module")
def arterial_arrays():
    sc = load_scenario("arterial")
    return build_arrays(sc, sc.active_plan_set(), movement_demand(sc), SUMO_MICRO, DelayParams())


@pytest.mark.parametrize("seed", range(4))
def test_network_pi_equals_python_twin(arterial_arrays, seed):
    a = arterial_arrays
    rng = np.random.default_rng(seed)
    offsets = rng.uniform(0, a.cycle, len(a.signals))
    greens = a.greens + rng.uniform(-5, 5, len(a.greens))
    got = a.pi(offsets, greens, sweeps=3)
    want = network_pi_py(a.as_lists(), offsets.tolist(), greens.tolist(), 3)
    assert got == pytest.approx(want, rel=1e-9)


def test_offsets_change_the_pi(arterial_arrays):
    a = arterial_arrays
    zero = a.pi(np.zeros(len(a.signals)))
    wave = a.pi(np.array([0.0, 22, 40, 68, 4, 25]))  # the reference eastbound wave
    assert wave != pytest.approx(zero, rel=1e-3)


def test_climb_improves_and_reports_the_pi_of_its_result(arterial_arrays):
    a = arterial_arrays
    start = a.pi()
    sol = hill_climb(a, a.offsets, a.greens, DelayParams())
    assert sol.pi < start
    assert sol.pi == pytest.approx(a.pi(sol.offsets, sol.greens), rel=1e-9)
    for k in range(len(a.signals)):  # splits keep each signal's cycle and the minimum greens
        s = slice(a.ph_ptr[k], a.ph_ptr[k + 1])
        assert sol.greens[s].sum() == pytest.approx(a.greens[s].sum())
        assert (sol.greens[s] >= a.min_greens[s] - 1e-9).all()


@pytest.mark.parametrize("seed", range(6))
def test_band_ratio_constraint_holds(seed):
    rng = np.random.default_rng(200 + seed)
    n, cycle = int(rng.integers(3, 10)), float(rng.integers(50, 121))
    alpha, delta, g_out, g_in = random_arterial(rng, n, cycle)
    offsets, bands = band_kernels.band_solve(alpha, delta, g_out, g_in, cycle, 1.0, 1.0, 0.5)
    assert bands[0] >= 0.5 * bands[1] - 1e-7 and bands[1] >= 0.5 * bands[0] - 1e-7
    got = band_eval_py(offsets, alpha, delta, g_out, g_in, cycle)
    assert got[0] >= bands[0] - 1e-7 and got[1] >= bands[1] - 1e-7  # the offsets carry at least these bands


@pytest.mark.slow
@pytest.mark.parametrize("ratio", [0.0, 0.5])
def test_band_solve_matches_the_maxband_milp_optimum(ratio):
    """The issue's target is >= 99 % of the exact optimum; the method is exact, so ask for 99.9 %."""
    pytest.importorskip("scipy")
    from signal_control.maxband_milp import maxband_milp

    rng = np.random.default_rng(7)
    for _ in range(15):
        n, cycle = int(rng.integers(4, 13)), float(rng.integers(60, 121))
        alpha, delta, g_out, g_in = random_arterial(rng, n, cycle)
        w_in = float(rng.choice([0.5, 1.0, 2.0]))
        _, bands = band_kernels.band_solve(alpha, delta, g_out, g_in, cycle, 1.0, w_in, ratio)
        bo, bi, _ = maxband_milp(alpha, delta, g_out, g_in, cycle, 1.0, w_in, ratio)
        assert bands[0] + w_in * bands[1] >= 0.999 * (bo + w_in * bi) - 1e-6
