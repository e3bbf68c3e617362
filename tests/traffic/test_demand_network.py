"""Demand (arrival processes, OD routing, PCU), network checks and interval counts."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tests.factories import make_cross_network
from traffic.counts import Health, IntervalCounts
from traffic.demand import Arrivals, Demand, Flow, FlowSlice, Route
from traffic.errors import ModelError
from traffic.network import Lane, Link
from traffic.scenario_io import load_scenario
from traffic.vehicles import DEFAULT_PCU, VehicleType


def test_poisson_arrivals_rate_and_dispersion():
    flow = Flow("f", (FlowSlice(0, 3600, 720.0),), route="r")
    counts = [flow.arrival_times_s(np.random.default_rng(seed)).size for seed in range(200)]
    # Poisson: mean = variance = 720 per hour; 200 seeds give the mean within ~0.5 %
    assert np.mean(counts) == pytest.approx(720, rel=0.01)
    assert np.var(counts) == pytest.approx(720, rel=0.25)
    times = flow.arrival_times_s(np.random.default_rng(1))
    assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < 3600


def test_arrivals_are_reproducible_for_a_seed():
    flow = Flow("f", (FlowSlice(0, 600, 900.0), FlowSlice(600, 1200, 300.0)), route="r")
    a = flow.arrival_times_s(np.random.default_rng(7))
    b = flow.arrival_times_s(np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert (a < 600).sum() > 2 * (a >= 600).sum()  # the first slice is three times busier


def test_uniform_and_bernoulli():
    uni = Flow("u", (FlowSlice(0, 60, 360.0),), route="r", arrivals=Arrivals.UNIFORM)
    assert np.allclose(uni.arrival_times_s(np.random.default_rng(0)), np.arange(0, 60, 10.0))
    ber = Flow("b", (FlowSlice(0, 36000, 360.0),), route="r", arrivals=Arrivals.BERNOULLI)
    t = ber.arrival_times_s(np.random.default_rng(0))
    assert np.all(t == np.floor(t)) and t.size == pytest.approx(3600, rel=0.05)


def test_flow_errors():
    with pytest.raises(ModelError, match="overlap"):
        Flow("f", (FlowSlice(0, 100, 1), FlowSlice(50, 200, 1)), route="r")
    with pytest.raises(ModelError, match="either a route or both origin and destination"):
        Flow("f", (FlowSlice(0, 100, 1),), origin="a")
    with pytest.raises(ModelError, match="flow_veh_h"):
        FlowSlice(0, 100, -5)
    with pytest.raises(ModelError, match="unknown route"):
        Demand.build([], [], [Flow("f", (FlowSlice(0, 100, 1),), route="r")])


def test_demand_scaling_and_pcu():
    d = Demand.build([VehicleType("car"), VehicleType("moto", "motorcycle", pcu=DEFAULT_PCU["motorcycle"])],
                     [Route("r", ("a",))], [Flow("f", (FlowSlice(0, 3600, 100),), route="r")])
    assert d.scaled(1.2).flows[0].slices[0].flow_veh_h == pytest.approx(120)
    assert d.pcu("moto") == 0.3 and d.pcu("car") == 1.0
    with pytest.raises(ModelError):
        d.scaled(-1)


def test_fastest_route_and_route_checks():
    net = make_cross_network()
    assert net.fastest_route("W_C", "C_N") == ("W_C", "C_N")
    with pytest.raises(ModelError, match="no route"):
        net.fastest_route("C_N", "W_C")
    with pytest.raises(ModelError, match="no movement from link 'N_C' to link 'C_N'"):
        net.check_route(["N_C", "C_N"])


def test_grid_od_routing_prefers_fewer_turns_at_equal_length():
    grid = load_scenario("grid")
    route = grid.network.fastest_route("W0_n0_0", "n4_0_E0")
    assert route[0] == "W0_n0_0" and route[-1] == "n4_0_E0" and len(route) == 6


def test_storage_capacity_uses_jam_spacing():
    link = Link("l", "a", "b", (Lane(0, 289.6, 13.89), Lane(1, 289.6, 13.89)))
    assert link.storage_capacity_veh() == 2 * 38  # 289.6 / 7.5 = 38.6 vehicles per lane
    with pytest.raises(ModelError, match="lane indices"):
        Link("l", "a", "b", (Lane(1, 10, 10),))


def test_interval_counts():
    c = IntervalCounts("cam1", 0.0, 900.0, {"N_C>C_S": {"car": 50, "motorcycle": 100}},
                       health=Health.OK)
    assert c.vehicles("N_C>C_S") == 150
    assert c.flow_veh_h("N_C>C_S") == pytest.approx(600)
    assert c.flow_pcu_h("N_C>C_S") == pytest.approx((50 + 30) * 4)
    assert c.flow_veh_h("missing") == 0
    with pytest.raises(ModelError):
        IntervalCounts("cam1", 0.0, 0.0, {})
    with pytest.raises(ModelError):
        IntervalCounts("cam1", 0.0, 60.0, {"a": {"car": -1}})


def test_domain_imports_no_other_project_package():
    """traffic/ owns the vocabulary and imports no other Greenwave package (DESIGN.md)."""
    others = {"detection", "signal_control", "simulation", "api", "benchmarks"}
    root = Path(__file__).resolve().parents[2] / "traffic"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in others, f"{path} imports {name}"
