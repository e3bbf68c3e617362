"""Pedestrian crossings: their length, their walk + clearance, when they may walk, and every path
(validator, optimiser, stage control) giving it."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.factories import mid, ns_ew_plan
from traffic.errors import PlanValidationError
from traffic.intersection import Crossing
from traffic.network import Lane, Link
from traffic.pedestrians import HCM_PEDESTRIANS, PedestrianRules, crossings_from_geometry, may_walk, walk_runs
from traffic.plan_validation import ValidationRules, check_plan, validate_plan
from traffic.scenario_io import builtin_scenarios, load_scenario, save_scenario
from traffic.signal_plan import Phase, SignalPlan
from traffic.stages import StageSignal, stage_set_from_plan


def test_min_green_is_walk_plus_length_over_walking_speed():
    c = Crossing("x", ("a",), 12.8)
    assert HCM_PEDESTRIANS.min_green_s(c) == pytest.approx(7.0 + 12.8 / 1.2)
    agency = PedestrianRules(walk_s=4.0, walking_speed_m_s=1.0)
    assert agency.min_green_s(c) == pytest.approx(4.0 + 12.8)


def test_crossing_length_is_the_legs_lanes_times_their_widths(cross):
    """The cross has two lanes in and two out on every leg, 3.2 m each by default: 12.8 m; widening
    the incoming lanes of the west leg to 3.5 m makes its crossing 13.4 m."""
    inter = cross.intersections["C"]
    assert {c.id: (c.links, c.length_m) for c in inter.crossings} == {
        f"C:{a}": (tuple(sorted((f"{a}_C", f"C_{a}"))), 12.8) for a in "NSEW"}
    net = cross.network
    wide = {lid: (replace(link, lanes=tuple(replace(ln, width_m=3.5) for ln in link.lanes)) if lid == "W_C" else link)
            for lid, link in net.links.items()}
    widened = replace(net, links=wide)
    got = {c.id: c.length_m for c in crossings_from_geometry(widened, ("C",), inter.movements.values())}
    assert got["C:W"] == pytest.approx(3.5 * 2 + 3.2 * 2) and got["C:E"] == 12.8


def test_lane_width_must_be_positive():
    from traffic.errors import ModelError

    with pytest.raises(ModelError, match="width_m"):
        Lane(0, 100.0, 13.89, (), 0.0)
    assert Link("l", "a", "b", (Lane(0, 10.0, 10.0, (), 3.0), Lane(1, 10.0, 10.0))).width_m == pytest.approx(6.2)


def test_when_each_crossing_may_walk(cross):
    """NS through phase: the crossings over E and W walk (the N/S right turns onto them are on a
    circular green and yield); never the N and S crossings (their approaches run). A protected
    left-turn phase (an arrow) lets none walk."""
    inter = cross.intersections["C"]
    plan = ns_ew_plan()
    by_id = {c.id: c for c in inter.crossings}
    assert [c for c in by_id if may_walk(plan.phases[0], by_id[c], inter)] == ["C:E", "C:W"]
    assert [c for c in by_id if may_walk(plan.phases[1], by_id[c], inter)] == []
    assert walk_runs(plan, by_id["C:N"], inter) == [(2,)]
    # a right turn alone (an overlap arrow) keeps the crossing it turns onto closed
    arrow = Phase("rights", 10.0, 3.0, 0.0, protected=frozenset({mid("N", "r")}))
    assert not may_walk(arrow, by_id["C:W"], inter)
    # a permissive left yields to the pedestrians it crosses
    perm = Phase("perm", 10.0, 3.0, 0.0, protected=frozenset({mid("S", "s"), mid("N", "s")}),
                 permissive=frozenset({mid("S", "l")}))
    assert may_walk(perm, by_id["C:W"], inter)
    prot = replace(perm, protected=perm.protected | {mid("S", "l")}, permissive=frozenset())
    assert not may_walk(prot, by_id["C:W"], inter)  # a protected left (the N through opposes it): an arrow


def test_a_short_side_green_is_refused_naming_the_crossing(cross):
    """A 6-s EW through green (the optimiser's old side-street greens) starves the N and S crossings."""
    plan = ns_ew_plan()
    short = plan.with_greens([25.0, 10.0, 6.0, 10.0])
    issues = validate_plan(short, cross.intersections["C"])
    ped = [i for i in issues if "crossing" in i]
    assert len(ped) == 2
    assert ped[0] == ("plan 'base' of 'C': crossing 'C:N' (over C_N, N_C, 12.8 m) gets 6 s in phase 2 'EW_through' "
                      "but needs 7 s walk + 12.8 m / 1.2 m/s = 10.7 s clearance = 17.7 s")
    with pytest.raises(PlanValidationError, match="crossing 'C:S'"):
        check_plan(short, cross.intersections["C"])
    assert validate_plan(short, cross.intersections["C"], ValidationRules(pedestrians=None)) == []
    # the agency's own figures: 4 s walk at 1.5 m/s needs 12.5 s
    agency = ValidationRules(pedestrians=PedestrianRules(walk_s=4.0, walking_speed_m_s=1.5))
    assert any("needs 4 s walk + 12.8 m / 1.5 m/s = 8.5 s clearance = 12.5 s" in i
               for i in validate_plan(short, cross.intersections["C"], agency))
    # clearance allowed into the yellow and all-red (MUTCD): 6 + 3 + 2 = 11 s is still short of 17.7 s
    mutcd = ValidationRules(pedestrians=PedestrianRules(clearance_in_change_interval=True))
    assert any("gets 11 s in phase 2" in i for i in validate_plan(short, cross.intersections["C"], mutcd))


def test_carried_over_phases_count_together(cross):
    """The EW through split into two phases, the first carried over: 10 + 3 + 2 + 8 = 23 s for the N crossing."""
    inter = cross.intersections["C"]
    base = ns_ew_plan()
    ew = base.phases[2]
    first = replace(ew, name="EW_a", green_s=10.0, carry_over=ew.green_movements)
    second = replace(ew, name="EW_b", green_s=8.0)
    phases = (*base.phases[:2], first, second, base.phases[3])
    plan = SignalPlan("C", "split", sum(p.duration_s for p in phases), 0.0, phases)
    assert [i for i in validate_plan(plan, inter) if "crossing" in i] == []
    by_id = {c.id: c for c in inter.crossings}
    assert walk_runs(plan, by_id["C:N"], inter) == [(2, 3)]


def test_a_crossing_that_never_walks_is_refused(cross):
    inter = cross.intersections["C"]
    plan = ns_ew_plan()
    # the N right turn runs in every phase: its vehicles cross the N crosswalk, which never walks
    right = mid("N", "r")
    phases = tuple(p if right in p.green_movements else replace(p, protected=p.protected | {right})
                   for p in plan.phases)
    issues = validate_plan(replace(plan, phases=phases), inter, ValidationRules())
    assert any("crossing 'C:N'" in i and "never gets a walk" in i for i in issues)


def test_a_scenario_may_declare_its_crossings_or_none(cross, tmp_path):
    inter = cross.intersections["C"]
    none = replace(cross, intersections={"C": replace(inter, crossings=())})
    save_scenario(none, tmp_path / "none.json")
    again = load_scenario(tmp_path / "none.json")
    assert again.intersections["C"].crossings == ()
    short = ns_ew_plan().with_greens([25.0, 10.0, 6.0, 10.0])
    assert validate_plan(short, again.intersections["C"]) == []
    save_scenario(cross, tmp_path / "derived.json")
    assert '"crossings": null' in (tmp_path / "derived.json").read_text()
    assert load_scenario(tmp_path / "derived.json").intersections["C"].crossings == inter.crossings


def test_old_scenario_files_load_with_default_widths():
    sc = load_scenario("arterial")
    assert {ln.width_m for link in sc.network.links.values() for ln in link.lanes} == {3.2}
    lengths = {c.id: c.length_m for c in sc.intersections["I1"].crossings}
    assert lengths == {"I1:I2": 12.8, "I1:N1": 6.4, "I1:S1": 6.4, "I1:W": 12.8}


@pytest.mark.parametrize("name", builtin_scenarios())
def test_every_builtin_plan_gives_its_crossings_their_minimum(name):
    sc = load_scenario(name)
    for iid, programs in sc.plans.items():
        for plan in programs.values():
            assert validate_plan(plan, sc.intersections[iid]) == []


@pytest.mark.parametrize("name", builtin_scenarios())
def test_optimised_plans_pass_the_validator_with_pedestrians(name):
    from signal_control.errors import InfeasibleDemandError
    from signal_control.optimize import optimize

    sc = load_scenario(name)
    method = "webster" if len(sc.intersections) == 1 else "delay"
    if name == "isolated_sat":  # over-saturated by design (Y = 1.42): no fixed-time plan, pedestrians or not
        with pytest.raises(InfeasibleDemandError):
            optimize(sc, method)
        return
    if name == "grid":
        from signal_control.params import DEFAULT_DELAY

        result = optimize(sc, method, delay=replace(DEFAULT_DELAY, restarts=0, max_passes=3))
    else:
        result = optimize(sc, method)
    for iid, plan in result.plans.items():
        assert validate_plan(plan, sc.intersections[iid]) == [], (iid, plan)
    # the side streets' crossings of the arterial (4 lanes, 12.8 m) get their 17.7 s
    if name == "arterial":
        assert min(p.phases[1].green_s for p in result.plans.values()) >= 7 + 12.8 / 1.2


def test_stage_head_holds_a_stage_for_its_crossings(cross):
    """Under stage control the NS through stage (the E and W crossings walk) ends no sooner than
    17.7 s; the NS left stage (no crossing walks) after the vehicle minimum of 5 s."""
    stages = stage_set_from_plan(ns_ew_plan(), cross.intersections["C"])
    need = 7 + 12.8 / 1.2
    assert stages.min_green_of(0) == pytest.approx(need) and stages.min_green_of(1) == 5.0
    head = StageSignal(stages, 0, now_s=0.0)
    assert not head.request(1, 17.0)
    assert head.request(1, 17.7)
    head.advance(22.7)
    assert head.stage == 1
    assert not head.request(2, 22.7 + 4.9) and head.request(2, 22.7 + 5.0)


@pytest.mark.sumo
def test_sumo_crossings_are_used_exactly(sumo, tmp_path):
    """A SUMO net with crossings (netconvert --crossings.guess, 3.5-m lanes): Greenwave takes its
    crossings, their lengths SUMO's, over the edges they cross; lane widths come along."""
    from traffic.sumo.network import read_sumo_net

    (tmp_path / "n.nod.xml").write_text(
        '<nodes><node id="C" x="0" y="0" type="traffic_light"/><node id="W" x="-200" y="0"/>'
        '<node id="E" x="200" y="0"/><node id="S" x="0" y="-200"/><node id="N" x="0" y="200"/></nodes>')
    edges = [("W_C", "W", "C"), ("C_E", "C", "E"), ("E_C", "E", "C"), ("C_W", "C", "W"),
             ("S_C", "S", "C"), ("C_S", "C", "S"), ("N_C", "N", "C"), ("C_N", "C", "N")]
    (tmp_path / "n.edg.xml").write_text("<edges>" + "".join(
        f'<edge id="{e}" from="{a}" to="{b}" numLanes="1" speed="13.89" width="3.5" sidewalkWidth="2.0"/>'
        for e, a, b in edges) + "</edges>")
    out = tmp_path / "n.net.xml"
    netconvert = Path(sumo).parent / "netconvert"
    if not netconvert.exists():
        pytest.skip("netconvert is not installed beside sumo")
    subprocess.run([str(netconvert), "-n", str(tmp_path / "n.nod.xml"), "-e", str(tmp_path / "n.edg.xml"),
                    "-o", str(out), "--no-turnarounds", "--crossings.guess"],
                   check=True, capture_output=True, timeout=60)
    sc = read_sumo_net(out)  # the net alone: programs that signal crossings are not imported yet
    inter = sc.intersections["C"]
    assert len(inter.crossings) == 4
    assert all(c.id.startswith(":C_c") for c in inter.crossings)
    assert {frozenset(c.links) for c in inter.crossings} == {frozenset((f"{a}_C", f"C_{a}")) for a in "NSEW"}
    assert all(6.0 < c.length_m < 12.0 for c in inter.crossings)  # two 3.5-m lanes, as SUMO measures it
    assert {ln.width_m for link in sc.network.links.values() for ln in link.lanes if ln.movements} == {3.5}


def test_plan_check_cli_pedestrian_options(tmp_path, capsys):
    """``greenwave plan check``: a 6-s side green is refused naming the crossing; the agency's walking
    speed changes the figures; ``--no-pedestrians`` drops the check."""
    from greenwave.cli.main import main
    from traffic.scenario_io import save_plan_file

    sc = load_scenario("isolated_x080")
    short = sc.active_plan("C").with_greens([25.0, 10.0, 6.0, 10.0], name="short")
    save_plan_file({"C": short}, tmp_path / "short.json")
    args = ["plan", "check", "isolated_x080", "--plan", str(tmp_path / "short.json")]
    assert main(args) == 2
    assert "crossing 'C:N' (over C_N, N_C, 12.8 m) gets 6 s in phase 2 'EW_through'" in capsys.readouterr().err
    assert main([*args, "--walk-s", "4", "--walking-speed-m-s", "1.0"]) == 2
    assert "needs 4 s walk + 12.8 m / 1 m/s = 12.8 s clearance = 16.8 s" in capsys.readouterr().err
    assert main([*args, "--no-pedestrians"]) == 0
    assert main([*args, "--walking-speed-m-s", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "walking-speed-m-s" in err[0]
