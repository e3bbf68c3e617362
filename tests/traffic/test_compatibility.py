"""The compatibility rule (which conflicting movements may be green together): approaches related by
geometry, a table of unsafe combinations that must be refused (naming the phase and both movements),
the safe ones that must pass, every built-in scenario's plans, and the CLI reproduction of issue 15."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from greenwave.cli.main import main
from tests.factories import make_cross_network, mid, ns_ew_plan
from traffic.compatibility import Relation, green_together, opposing_approaches, relation
from traffic.intersection import Intersection
from traffic.network import Network, Node
from traffic.plan_validation import validate_plan
from traffic.scenario_io import load_scenario, make_intersection, save_plan_file
from traffic.signal_plan import Interval, Phase, SignalPlan

BUILT_IN = ["arterial", "arterial_timevarying", "grid", "isolated_x050", "isolated_x080", "isolated_x095",
            "isolated_sat"]


@pytest.fixture(scope="module")
def arterial():
    return load_scenario("arterial")


def _with_phase(plan: SignalPlan, index: int, **changes) -> SignalPlan:
    phases = list(plan.phases)
    phases[index] = replace(phases[index], **changes)
    return replace(plan, phases=tuple(phases), cycle_s=sum(p.duration_s for p in phases))


def _conflicts(plan: SignalPlan, inter: Intersection) -> list[str]:
    """The plan's issues with conflicting movements green together (other rules are tested elsewhere)."""
    return [i for i in validate_plan(plan, inter) if "conflicting movements" in i]


def _sumo_state(phase: Phase, inter: Intersection) -> str:
    return "".join(phase.state_of(m, Interval.GREEN) if m else "r" for m in inter.signal_links)


# --- geometry ----------------------------------------------------------------------------------

def test_opposing_and_side_approaches_from_coordinates(cross):
    inter = cross.intersections["C"]
    assert inter.opposing_approaches == {frozenset({"N_C", "S_C"}), frozenset({"E_C", "W_C"})}
    assert relation(inter, mid("N", "l"), mid("S", "s")) is Relation.OPPOSING
    assert relation(inter, mid("N", "l"), mid("E", "s")) is Relation.SIDE
    assert relation(inter, mid("N", "l"), mid("N", "s")) is Relation.SAME


def test_topology_decides_where_coordinates_say_nothing():
    net = make_cross_network()
    flat = Network.build([Node(n.id, n.kind) for n in net.nodes.values()], net.links.values(),
                         net.movements.values())  # every node at (0, 0)
    assert {n.x_m for n in flat.nodes.values()} == {0.0}
    assert opposing_approaches(flat, flat.movements.values()) == {frozenset({"N_C", "S_C"}),
                                                                 frozenset({"E_C", "W_C"})}


def test_sumo_import_relates_approaches_by_lane_shape(resco):
    from traffic.sumo import import_sumocfg

    ing = import_sumocfg(resco / "ingolstadt7.sumocfg")
    # the cluster's two main-road approaches end at different nodes and meet at 147 degrees node to node;
    # their lane shapes at the stop line face each other
    inter = ing.intersections["cluster_1757124350_1757124352"]
    assert inter.opposing_approaches == {frozenset({"124812856#1", "201956819#0"})}
    assert all(len(i.opposing_approaches) == 1 for i in ing.intersections.values())


# --- the built-in plans pass -------------------------------------------------------------------

@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_plan_is_compatible(name):
    sc = load_scenario(name)
    for iid, inter in sc.intersections.items():
        for plan in sc.plans[iid].values():
            assert _conflicts(plan, inter) == [], (iid, plan.name)


def test_every_plan_of_the_real_city_is_compatible(resco):
    from traffic.sumo import import_sumocfg

    ing = import_sumocfg(resco / "ingolstadt7.sumocfg")
    for iid, inter in ing.intersections.items():
        for plan in ing.plans[iid].values():
            assert _conflicts(plan, inter) == [], (iid, plan.name)


# --- unsafe combinations: each refused, naming the phase and both movements -------------------

# (scenario, phase index, protected added, permissive added, the two movements named, words in the reason)
UNSAFE = [
    pytest.param("arterial", 0, set(), {"N1_I1>I1_S1"}, ("N1_I1>I1_S1", "W_I1>I1_I2"), "through movement never yields",
                 id="side-street through g during the arterial's protected green"),
    pytest.param("arterial", 0, set(), {"N1_I1>I1_I2"}, ("N1_I1>I1_I2", "W_I1>I1_I2"), "a side approach",
                 id="side-street left g across the arterial through"),
    pytest.param("arterial", 0, set(), {"N1_I1>I1_W"}, ("N1_I1>I1_W", "I2_I1>I1_W"), "a side approach",
                 id="side-street right g merging into the arterial through"),
    pytest.param("arterial", 1, set(), {"W_I1>I1_I2"}, ("W_I1>I1_I2", "N1_I1>I1_S1"), "through movement never yields",
                 id="arterial through g during the side street's protected green"),
    pytest.param("cross", 2, set(), {mid("N", "s")}, (mid("N", "s"), mid("E", "s")), "through movement never yields",
                 id="two crossing throughs, one permissive"),
    pytest.param("cross", 0, set(), {mid("E", "l")}, (mid("E", "l"), mid("N", "s")), "a side approach",
                 id="side left permissive against the crossing through"),
    pytest.param("cross", 1, set(), {mid("S", "s")}, (mid("S", "s"), mid("N", "l")), "through movement never yields",
                 id="through permissive against the opposing protected left"),
    pytest.param("cross", 1, set(), {mid("E", "l")}, (mid("E", "l"), mid("N", "l")), "a side approach",
                 id="left permissive against a protected left from the side"),
]


@pytest.mark.parametrize(("name", "index", "protected", "permissive", "named", "words"), UNSAFE)
def test_unsafe_combination_is_refused(cross, arterial, name, index, protected, permissive, named, words):
    sc = cross if name == "cross" else arterial
    iid = "C" if name == "cross" else "I1"
    plan = sc.active_plan(iid)
    phase = plan.phases[index]
    bad = _with_phase(plan, index, protected=phase.protected | protected,
                      permissive=(phase.permissive | permissive) - protected)
    issues = validate_plan(bad, sc.intersections[iid])
    label = f"phase {index} {phase.name!r}"
    hits = [i for i in issues if label in i and all(repr(m) in i for m in named)]
    assert hits, issues
    assert any(words in i for i in hits), hits


def test_both_permissive_crossing_throughs_are_refused(cross):
    inter = cross.intersections["C"]
    verdict = green_together(inter, mid("N", "s"), mid("E", "s"), a_permissive=True, b_permissive=True)
    assert not verdict.allowed and verdict.yielding is None
    assert "through movement never yields" in verdict.reason


def test_the_issue_state_string_is_refused(arterial):
    """``rgrGGGgrgrGGGg`` at I1: the side street's throughs shown g during the arterial's protected green."""
    inter = arterial.intersections["I1"]
    plan = arterial.active_plan("I1")
    bad = _with_phase(plan, 0, permissive=plan.phases[0].permissive | {"N1_I1>I1_S1", "S1_I1>I1_N1"})
    assert _sumo_state(bad.phases[0], inter) == "rgrGGGgrgrGGGg"
    issues = validate_plan(bad, inter)
    for side in ("N1_I1>I1_S1", "S1_I1>I1_N1"):
        for main_through in ("W_I1>I1_I2", "I2_I1>I1_W"):
            assert any("phase 0 'MAIN_green'" in i and repr(side) in i and repr(main_through) in i for i in issues)


def test_plan_check_cli_refuses_the_issue_plan(tmp_path, arterial, capsys):
    plan = arterial.active_plan("I1")
    bad = _with_phase(plan, 0, name="MAIN_green",
                      permissive=plan.phases[0].permissive | {"N1_I1>I1_S1", "S1_I1>I1_N1"})
    save_plan_file({"I1": replace(bad, name="P")}, tmp_path / "P.json")
    assert main(["plan", "check", "arterial", "--plan", str(tmp_path / "P.json")]) == 2
    err = capsys.readouterr().err
    assert "phase 0 'MAIN_green'" in err and "'N1_I1>I1_S1'" in err and "'W_I1>I1_I2'" in err
    assert "Traceback" not in err


# --- safe combinations -------------------------------------------------------------------------

def test_permissive_left_against_opposing_through_is_allowed(cross):
    inter = cross.intersections["C"]
    verdict = green_together(inter, mid("N", "l"), mid("S", "s"), a_permissive=True, b_permissive=False)
    assert verdict.allowed and verdict.yielding == mid("N", "l") and "opposing approach" in verdict.reason
    plan = _with_phase(ns_ew_plan(), 0, permissive=frozenset({mid("N", "l"), mid("S", "l")}))
    assert _conflicts(plan, inter) == []


def test_short_turn_yielding_to_the_opposing_protected_left_is_allowed(cross):
    verdict = green_together(cross.intersections["C"], mid("N", "r"), mid("S", "l"), a_permissive=True,
                             b_permissive=False)
    assert verdict.allowed and verdict.yielding == mid("N", "r")


def test_movements_that_do_not_conflict_are_always_compatible(cross):
    verdict = green_together(cross.intersections["C"], mid("N", "s"), mid("S", "s"), a_permissive=False,
                             b_permissive=False)
    assert verdict.allowed and verdict.yielding is None


def _cross_right_turn_on_green(yield_controlled: frozenset[str]) -> tuple[SignalPlan, Intersection]:
    from tests.factories import cross_conflicts

    inter = make_intersection(make_cross_network(), "C", ("C",), conflicts=cross_conflicts(),
                              yield_controlled=yield_controlled)
    plan = ns_ew_plan()
    # the N right turn (a slip lane) also runs, permissively, in the E-W through phase, merging with the E through
    return _with_phase(plan, 2, permissive=frozenset({mid("N", "r")})), inter


def test_yield_controlled_movement_may_merge_from_the_side():
    plan, plain = _cross_right_turn_on_green(frozenset())
    issues = validate_plan(plan, plain)
    assert any("phase 2 'EW_through'" in i and repr(mid("N", "r")) in i and repr(mid("E", "s")) in i for i in issues)
    plan, declared = _cross_right_turn_on_green(frozenset({mid("N", "r")}))
    assert _conflicts(plan, declared) == []


def test_yield_controlled_still_needs_the_nets_rule_to_yield(arterial):
    inter = arterial.intersections["I1"]
    right = "N1_I1>I1_W"  # the side street's right turn, merging with the arterial's westbound through
    declared = replace(inter, yield_controlled=frozenset({right}))
    plan = arterial.active_plan("I1")
    bad = _with_phase(plan, 0, permissive=plan.phases[0].permissive | {right})
    assert (right, "I2_I1>I1_W") in inter.yields
    assert _conflicts(bad, declared) == []
    no_rule = replace(declared, yields=frozenset(p for p in inter.yields if p[0] != right))
    issues = validate_plan(bad, no_rule)
    assert any(repr(right) in i and "no rule to yield" in i for i in issues), issues


def test_yield_controlled_round_trips_through_the_scenario_file(tmp_path, arterial):
    from traffic.scenario_io import save_scenario

    inter = arterial.intersections["I1"]
    sc = replace(arterial, intersections={**arterial.intersections,
                                          "I1": replace(inter, yield_controlled=frozenset({"N1_I1>I1_W"}))})
    save_scenario(sc, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["intersections"][0]["yield_controlled"] == ["N1_I1>I1_W"]
    assert load_scenario(tmp_path / "s.json").intersections["I1"].yield_controlled == {"N1_I1>I1_W"}


def test_yield_controlled_must_name_known_movements(tmp_path, arterial):
    from traffic.errors import TrafficError
    from traffic.scenario_io import save_scenario

    save_scenario(arterial, tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    data["intersections"][0]["yield_controlled"] = ["nowhere"]
    (tmp_path / "s.json").write_text(json.dumps(data))
    with pytest.raises(TrafficError, match="yield_controlled"):
        load_scenario(tmp_path / "s.json")
