"""SUMO import and export on the reference scenarios and a real city's programs."""

from __future__ import annotations

import subprocess

import pytest

from traffic.errors import SumoFormatError
from traffic.scenario_io import load_scenario, save_scenario
from traffic.sumo import import_sumo, write_tls_additional
from traffic.sumo.tls import read_tls_programs

CASES = {
    "isolated_x050": ("isolated.net.xml", ["isolated_x050.rou.xml"], []),
    "isolated_x080": ("isolated.net.xml", ["isolated_x080.rou.xml"], []),
    "isolated_x095": ("isolated.net.xml", ["isolated_x095.rou.xml"], []),
    "arterial": ("arterial.net.xml", ["arterial.rou.xml"],
                 ["arterial_tls_greenwave.add.xml", "arterial_tls_zero.add.xml"]),
    "grid": ("grid.net.xml", ["grid.rou.xml"], []),
}


ARTERIAL_GROUPS = {"EB_through": ["EB_through"], "WB_through": ["WB_through"], "EB_turning": ["EB_to_*"],
                   "WB_turning": ["WB_to_*"], "side_origin": ["N*_to_*", "S*_to_*"]}


def _import(ref, case):
    net, routes, adds = CASES[case]
    groups = ARTERIAL_GROUPS if case == "arterial" else None
    return import_sumo(ref / net, [ref / r for r in routes], [ref / a for a in adds], name=case, route_groups=groups)


def _program_table(path):
    return {(p.tls_id, p.program_id): (p.offset_s, [(ph.duration_s, ph.state, ph.name) for ph in p.phases])
            for p in read_tls_programs(path)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_export_equals_original_phase_by_phase(ref_sumo, case, tmp_path):
    scenario = _import(ref_sumo, case)
    net, _, adds = CASES[case]
    original = {}
    for f in [net, *adds]:
        original.update(_program_table(ref_sumo / f))
    plans = [p for programs in scenario.plans.values() for p in programs.values()]
    assert len(plans) == len(original)
    out = tmp_path / "tls.add.xml"
    write_tls_additional(plans, dict(scenario.intersections), out)
    assert _program_table(out) == original


def test_active_plan_is_the_last_additional_program(ref_sumo):
    scenario = _import(ref_sumo, "arterial")
    assert set(scenario.active_plans.values()) == {"zero"}
    wave = scenario.select_plan("greenwave")
    assert [wave.active_plan(f"I{i}").offset_s for i in range(1, 7)] == [0, 22, 40, 68, 4, 25]


@pytest.mark.parametrize("case", sorted(CASES))
def test_committed_scenarios_equal_a_fresh_import(ref_sumo, case, tmp_path):
    fresh = tmp_path / f"{case}.json"
    save_scenario(_import(ref_sumo, case), fresh)
    committed = load_scenario(case)
    assert load_scenario(fresh) == committed


def test_imported_geometry_matches_report(ref_sumo):
    """REPORT.md section 2: approach lanes 289.6 m; internal through 20.8 m, left 19.35 m, right 9.03 m."""
    sc = load_scenario("isolated_x080")
    assert sc.network.links["N_C"].length_m == pytest.approx(289.6, abs=0.05)
    moves = sc.intersections["C"].movements
    assert moves["N_C>C_S"].internal_length_m == pytest.approx(20.8, abs=0.05)
    assert moves["N_C>C_E"].internal_length_m == pytest.approx(19.35, abs=0.05)
    assert moves["N_C>C_W"].internal_length_m == pytest.approx(9.03, abs=0.05)
    assert moves["N_C>C_W"].internal_speed_m_s == pytest.approx(6.51, abs=0.01)
    art = load_scenario("arterial")
    assert art.intersections["I1"].movements["W_I1>I1_N1"].internal_length_m == pytest.approx(16.85, abs=0.05)
    assert art.network.links["I1_I2"].length_m == pytest.approx(285.6, abs=0.05)


def test_lane_use_and_lane_groups(ref_sumo):
    art = load_scenario("arterial")
    groups = {g.id: g.movements for g in art.intersections["I1"].lane_groups}
    assert groups["W_I1#0"] == ("W_I1>I1_I2", "W_I1>I1_S1")  # through + right
    assert groups["W_I1#1"] == ("W_I1>I1_I2", "W_I1>I1_N1")  # through + left
    lefts = art.active_plan("I1").phases[0].permissive
    assert lefts == {"W_I1>I1_N1", "I2_I1>I1_S1"}  # main-street lefts are permissive (g)


def test_real_city_programs_round_trip(resco, tmp_path):
    """ingolstadt7's field programs have overlaps (movements green through a yellow) and no all-red."""
    sc = import_sumo(resco / "ingolstadt7.net.xml", [resco / "ingolstadt7.rou.xml"])
    assert len(sc.intersections) == 7 and len(sc.demand.trips) == 3031
    assert sc.validate_active_plans() == []
    out = tmp_path / "tls.add.xml"
    write_tls_additional(sc.active_plan_set().values(), dict(sc.intersections), out)
    ours = _program_table(out)
    theirs = _program_table(resco / "ingolstadt7.net.xml")
    assert ours == theirs


@pytest.mark.sumo
@pytest.mark.parametrize("case", ["isolated_x080", "arterial", "grid"])
def test_sumo_runs_exported_plans_without_warnings(ref_sumo, sumo, case, tmp_path):
    scenario = load_scenario(case)
    if case == "arterial":
        scenario = scenario.select_plan("greenwave")
    out = tmp_path / "tls.add.xml"
    write_tls_additional(scenario.active_plan_set().values(), dict(scenario.intersections), out,
                         program_id="greenwave_export")
    net, routes, _ = CASES[case]
    run = subprocess.run([sumo, "-n", str(ref_sumo / net), "-r", str(ref_sumo / routes[0]), "-a", str(out),
                          "--end", "600", "--no-step-log", "--seed", "1"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "warning" not in (run.stdout + run.stderr).lower(), run.stderr


def test_malformed_net_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.net.xml"
    bad.write_text("<net><edge id='a'")
    with pytest.raises(SumoFormatError, match="cannot read SUMO net"):
        import_sumo(bad)
    with pytest.raises(SumoFormatError, match="does not exist"):
        import_sumo(tmp_path / "missing.net.xml")


def test_additional_for_unknown_signal(ref_sumo, tmp_path):
    add = tmp_path / "x.add.xml"
    add.write_text('<additional><tlLogic id="nope" programID="p" offset="0" type="static">'
                   '<phase duration="30" state="G"/></tlLogic></additional>')
    with pytest.raises(SumoFormatError, match=r"'nope'.*controls no signal"):
        import_sumo(ref_sumo / "isolated.net.xml", [], [add])


def test_route_file_variants(ref_sumo, tmp_path):
    rou = tmp_path / "r.rou.xml"
    rou.write_text("""<routes>
      <vType id="moto" vClass="motorcycle" length="2.2" speedFactor="normc(1.1,0.2,0.5,2)"/>
      <route id="ns" edges="N_C C_S"/>
      <flow id="a" route="ns" begin="0" end="1800" vehsPerHour="600"/>
      <flow id="b" route="ns" begin="0" end="3600" probability="0.05" type="moto"/>
      <flow id="c" from="W_C" to="C_E" begin="100" end="3700" number="90"/>
      <flow id="d" route="ns" begin="0" end="3600" period="exp(0.1)"/>
      <vehicle id="v1" depart="12.5"><route edges="E_C C_W"/></vehicle>
      <trip id="t1" depart="20" from="S_C" to="C_N"/>
    </routes>""")
    sc = import_sumo(ref_sumo / "isolated.net.xml", [rou])
    flows = {f.id: f for f in sc.demand.flows}
    assert flows["a"].slices[0].flow_veh_h == 600 and flows["a"].arrivals.value == "uniform"
    assert flows["b"].slices[0].flow_veh_h == pytest.approx(180) and flows["b"].arrivals.value == "bernoulli"
    assert flows["c"].slices[0].flow_veh_h == pytest.approx(90) and flows["c"].origin == "W_C"
    assert flows["d"].slices[0].flow_veh_h == pytest.approx(360) and flows["d"].arrivals.value == "poisson"
    moto = sc.demand.vehicle_types["moto"]
    assert (moto.vehicle_class, moto.pcu, moto.speed_factor, moto.speed_dev) == ("motorcycle", 0.3, 1.1, 0.2)
    trips = {t.id: t for t in sc.demand.trips}
    assert sc.route_links(trips["t1"]) == ("S_C", "C_N")
    assert sc.demand.routes[trips["v1"].route].links == ("E_C", "C_W")
    assert sc.route_links(flows["c"]) == ("W_C", "C_E")


def test_import_sumocfg_real_city(resco, tmp_path, capsys):
    """ingolstadt7: the config names the net and routes and the 16:00-17:00 window."""
    from greenwave.cli.main import main

    out = tmp_path / "ing.json"
    assert main(["scenario", "import", str(resco / "ingolstadt7.sumocfg"), "-o", str(out)]) == 0
    sc = load_scenario(out)
    assert sc.name == "ingolstadt7"
    assert (sc.begin_s, sc.end_s) == (57600.0, 61200.0)
    assert len(sc.intersections) == 7 and len(sc.network.links) == 95
    assert sum(link.num_lanes for link in sc.network.links.values()) == 276
    assert len(sc.demand.trips) == 3031
    buses = [t for t in sc.demand.trips if sc.demand.vehicle_types[t.vehicle_type].vehicle_class == "bus"]
    assert len(buses) == 38 and sc.demand.pcu(buses[0].vehicle_type) == 2.0
    # every trip is routable on the imported network (fastest free-flow route)
    assert all(sc.route_links(t)[0] == t.origin for t in sc.demand.trips[:200])


def test_malformed_sumocfg(tmp_path):
    from traffic.sumo.config import read_sumocfg

    bad = tmp_path / "x.sumocfg"
    bad.write_text("<configuration><input></input></configuration>")
    with pytest.raises(SumoFormatError, match="exactly one net-file"):
        read_sumocfg(bad)
    bad.write_text("<configuration><input><net-file value='a.net.xml'/></input>"
                   "<time><begin value='noon'/></time></configuration>")
    with pytest.raises(SumoFormatError, match="begin='noon' is not a number"):
        read_sumocfg(bad)
