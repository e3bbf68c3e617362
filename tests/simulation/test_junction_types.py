"""Every junction type SUMO writes imports, and the simulator runs each as its kind says: zipper merges
alternate, all-way stops stop every vehicle and serve the approaches in turn, rail crossings close for
trains; approximated types warn once per type. Nets built with netconvert."""

from __future__ import annotations

import itertools
import logging
import subprocess
from pathlib import Path

import pytest

from simulation import Simulation
from traffic.network import NodeKind
from traffic.scenario_io import load_scenario, save_scenario
from traffic.sumo import import_sumo

pytestmark = pytest.mark.sumo


def _netconvert(sumo: str, folder: Path, nodes: list[tuple[str, float, float, str]],
                edges: list[tuple[str, str, str, int, str]], lanes: int = 1) -> Path:
    """``nodes``: (id, x, y, type or ""); ``edges``: (id, from, to, priority, extra attributes)."""
    netconvert = Path(sumo).parent / "netconvert"
    if not netconvert.exists():
        pytest.skip("netconvert is not installed beside sumo")
    (folder / "n.nod.xml").write_text("<nodes>" + "".join(
        f'<node id="{n}" x="{x}" y="{y}"' + (f' type="{t}"' if t else "") + "/>" for n, x, y, t in nodes)
        + "</nodes>")
    (folder / "n.edg.xml").write_text("<edges>" + "".join(
        f'<edge id="{e}" from="{a}" to="{b}" priority="{p}" numLanes="{lanes}" speed="13.89" {extra}/>'
        for e, a, b, p, extra in edges) + "</edges>")
    out = folder / "n.net.xml"
    subprocess.run([str(netconvert), "-n", str(folder / "n.nod.xml"), "-e", str(folder / "n.edg.xml"),
                    "-o", str(out), "--no-turnarounds"], check=True, capture_output=True, timeout=60)
    return out


def _cross(sumo: str, folder: Path, junction_type: str) -> Path:
    """Main road W-E (priority 2) crossed by a side road S->N (priority 1) at C."""
    nodes = [("C", 0, 0, junction_type), ("W", -200, 0, ""), ("E", 200, 0, ""), ("S", 0, -200, ""),
             ("N", 0, 200, "")]
    edges = [("W_C", "W", "C", 2, ""), ("C_E", "C", "E", 2, ""), ("E_C", "E", "C", 2, ""), ("C_W", "C", "W", 2, ""),
             ("S_C", "S", "C", 1, ""), ("C_N", "C", "N", 1, "")]
    return _netconvert(sumo, folder, nodes, edges)


def _routes(folder: Path, flows: list[tuple[str, str, float]], end_s: float = 600.0,
            trains: list[tuple[str, float]] = ()) -> Path:
    """Flows (id, edges, veh/h) of cars from 0 to ``end_s`` and single trains (edges, depart)."""
    body = '<vType id="car"/><vType id="train" vClass="rail" speedFactor="1" speedDev="0"/>'
    body += "".join(f'<route id="r_{i}" edges="{e}"/><flow id="{i}" type="car" route="r_{i}" begin="0" '
                    f'end="{end_s}" vehsPerHour="{q}"/>' for i, e, q in flows)
    body += "".join(f'<route id="t_{k}" edges="{e}"/><vehicle id="train{k}" type="train" route="t_{k}" '
                    f'depart="{t}"/>' for k, (e, t) in enumerate(trains))
    path = folder / "n.rou.xml"
    path.write_text(f"<routes>{body}</routes>")
    return path


def _departures(net: Path, routes: Path, seed: int = 1, duration_s: float = 900.0) -> tuple[Simulation, list]:
    sim = Simulation(import_sumo(net, [routes]), seed=seed, duration_s=duration_s, record_departures=True).run()
    return sim, [(t, link) for t, link, _ in sim.departures]


EXPECTED_KIND = {
    "priority": NodeKind.PRIORITY, "right_before_left": NodeKind.PRIORITY, "left_before_right": NodeKind.PRIORITY,
    "unregulated": NodeKind.PRIORITY, "priority_stop": NodeKind.PRIORITY, "zipper": NodeKind.ZIPPER,
    "allway_stop": NodeKind.ALLWAY_STOP, "rail_signal": NodeKind.PRIORITY, "traffic_light": NodeKind.SIGNAL,
    "traffic_light_unregulated": NodeKind.SIGNAL, "traffic_light_right_on_red": NodeKind.SIGNAL,
}
APPROXIMATED = {"priority_stop", "rail_signal", "traffic_light_unregulated", "traffic_light_right_on_red"}


@pytest.mark.parametrize("junction_type", sorted(EXPECTED_KIND))
def test_every_junction_type_imports_and_runs(sumo, tmp_path, caplog, junction_type):
    """Nothing SUMO runs is refused; approximated types say so in one warning line, modelled ones say nothing."""
    net = _cross(sumo, tmp_path, junction_type)
    with caplog.at_level(logging.WARNING, logger="traffic.sumo.network"):
        sc = import_sumo(net, [_routes(tmp_path, [("we", "W_C C_E", 400), ("sn", "S_C C_N", 200)], end_s=120)])
    assert sc.network.nodes["C"].kind is EXPECTED_KIND[junction_type]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if junction_type in APPROXIMATED:
        assert len(warnings) == 1 and f"type {junction_type!r}" in warnings[0] and "'C'" in warnings[0]
    else:
        assert warnings == []
    assert (list(sc.intersections) == ["C"]) is (EXPECTED_KIND[junction_type] is NodeKind.SIGNAL)
    # netconvert's default programs give pedestrians no walk: only the conflict monitor for them here
    sim = Simulation(sc, seed=1, duration_s=400.0, rules=None).run()
    assert sim.finished == sim.total > 0 and sim.teleports == 0


def test_right_on_red_is_approximated_as_red(sumo, tmp_path):
    """The side road's right turn shows 's' (right on red after a stop) while the main road has green:
    Greenwave holds it on red then, and it goes with its own approach's green."""
    net = _cross(sumo, tmp_path, "traffic_light_right_on_red")
    assert "s" in "".join(net.read_text().split('state="')[1:])  # SUMO does write right on red
    plan = import_sumo(net).active_plan("C")
    greens = [ph.green_movements for ph in plan.phases if "S_C>C_E" in ph.green_movements]
    assert greens and all("S_C>C_N" in g and "W_C>C_E" not in g for g in greens)


def test_one_warning_per_type_not_per_junction(sumo, tmp_path, caplog):
    """Two priority_stop junctions in a row: one warning naming both."""
    nodes = [("W", -400, 0, ""), ("A", -100, 0, "priority_stop"), ("B", 100, 0, "priority_stop"), ("E", 400, 0, ""),
             ("SA", -100, -200, ""), ("SB", 100, -200, "")]
    edges = [("W_A", "W", "A", 2, ""), ("A_B", "A", "B", 2, ""), ("B_E", "B", "E", 2, ""),
             ("SA_A", "SA", "A", 1, ""), ("SB_B", "SB", "B", 1, "")]
    with caplog.at_level(logging.WARNING, logger="traffic.sumo.network"):
        import_sumo(_netconvert(sumo, tmp_path, nodes, edges))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2 SUMO junctions of type 'priority_stop' ('A', 'B')" in warnings[0]


def _merge(sumo: str, folder: Path, junction_type: str) -> Path:
    """Two one-lane roads A->M (priority 2) and B->M (priority 1) merge into M->X (one lane)."""
    nodes = [("M", 0, 0, junction_type), ("A", -300, 50, ""), ("B", -300, -50, ""), ("X", 300, 0, "")]
    edges = [("A_M", "A", "M", 2, ""), ("B_M", "B", "M", 1, ""), ("M_X", "M", "X", 2, "")]
    return _netconvert(sumo, folder, nodes, edges)


def _longest_run(links: list[str]) -> int:
    best = run = 1
    for a, b in itertools.pairwise(links):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def test_zipper_merge_alternates(sumo, tmp_path):
    """Both merging streams queue (1,100 veh/h each into one lane): at a zipper they take turns, one
    from each in alternation, and share the lane evenly; at a priority merge the minor stream waits."""
    routes = _routes(tmp_path, [("a", "A_M M_X", 1100), ("b", "B_M M_X", 1100)], end_s=400.0)
    zipper = _merge(sumo, tmp_path, "zipper")
    assert import_sumo(zipper).network.nodes["M"].kind is NodeKind.ZIPPER
    _, deps = _departures(zipper, routes, duration_s=400.0)
    merged = [link for t, link in deps if link in ("A_M", "B_M") and 120.0 <= t <= 400.0]  # both queued by now
    assert len(merged) > 100
    assert _longest_run(merged) <= 2
    assert abs(merged.count("A_M") - merged.count("B_M")) <= 0.1 * len(merged)
    # consecutive merging vehicles keep at least a saturation headway between them
    times = [t for t, link in deps if link in ("A_M", "B_M")]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    (tmp_path / "p").mkdir()
    _, prio = _departures(_merge(sumo, tmp_path / "p", "priority"), routes, duration_s=400.0)
    prio_merged = [link for t, link in prio if link in ("A_M", "B_M") and 120.0 <= t <= 400.0]
    assert prio_merged.count("B_M") < 0.25 * prio_merged.count("A_M")  # the minor road gets only the gaps


def test_allway_stop_stops_everyone_and_serves_in_turn(sumo, tmp_path):
    """Every vehicle through an all-way stop stops; with queues on the crossing approaches they go one
    approach after the other, a clearance time apart; at a priority junction the major road never stops."""
    net = _cross(sumo, tmp_path, "allway_stop")
    routes = _routes(tmp_path, [("we", "W_C C_E", 800), ("sn", "S_C C_N", 800)], end_s=400.0)
    sim, deps = _departures(net, routes, duration_s=900.0)
    assert sim.finished == sim.total > 120
    assert all(s >= 1 for s in sim.log.stops)
    at_c = [(t, link) for t, link in deps if link in ("W_C", "S_C")]
    served = [link for t, link in at_c if 150.0 <= t <= 400.0]
    assert len(served) > 30 and _longest_run(served) <= 2  # queued on both: in turn
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(at_c) if a[1] != b[1]]
    assert min(gaps) >= 3.0  # a car from rest clears the junction (about 14 m inside, 5 m long) first
    (tmp_path / "p").mkdir()
    prio = Simulation(import_sumo(_cross(sumo, tmp_path / "p", "priority"), [routes]), seed=1,
                      duration_s=900.0).run()
    major = [s for s, f in zip(prio.log.stops, prio.log.flow, strict=True) if prio.flow_names[f] == "we"]
    assert sum(major) == 0


def _level_crossing(sumo: str, folder: Path) -> Path:
    """A road W->E over a railway S->N at a rail crossing C."""
    nodes = [("C", 0, 0, "rail_crossing"), ("W", -300, 0, ""), ("E", 300, 0, ""), ("S", 0, -600, ""),
             ("N", 0, 600, "")]
    edges = [("W_C", "W", "C", 1, 'allow="passenger"'), ("C_E", "C", "E", 1, 'allow="passenger"'),
             ("S_C", "S", "C", 2, 'allow="rail"'), ("C_N", "C", "N", 2, 'allow="rail"')]
    return _netconvert(sumo, folder, nodes, edges)


def test_rail_crossing_closes_while_a_train_passes(sumo, tmp_path):
    net = _level_crossing(sumo, tmp_path)
    sc = import_sumo(net)
    assert sc.network.nodes["C"].kind is NodeKind.RAIL_CROSSING
    assert sc.network.yields_at("W_C>C_E") == ("S_C>C_N",)
    # no train: open road, nobody stops
    sim, deps = _departures(net, _routes(tmp_path, [("road", "W_C C_E", 720)], end_s=300.0))
    assert sum(sim.log.stops) == 0
    # a train reaches the crossing: no road vehicle crosses from 15 s before until 6 s after
    sim, deps = _departures(net, _routes(tmp_path, [("road", "W_C C_E", 720)], end_s=300.0,
                                         trains=[("S_C C_N", 100.0)]))
    (train_s,) = [t for t, link in deps if link == "S_C"]
    road = [t for t, link in deps if link == "W_C"]
    assert not [t for t in road if train_s - 15.0 < t < train_s + 6.0]
    assert [t for t in road if train_s + 6.0 <= t < train_s + 12.0], "the queue goes once it opens"
    assert sum(sim.log.stops) > 0


def test_new_node_kinds_survive_a_scenario_file(sumo, tmp_path):
    sc = import_sumo(_merge(sumo, tmp_path, "zipper"))
    save_scenario(sc, tmp_path / "s.json")
    again = load_scenario(str(tmp_path / "s.json"))
    assert again.network.nodes["M"].kind is NodeKind.ZIPPER
    assert again.network.yields == sc.network.yields


def test_sumo_control_runs_a_city_with_junctions_it_does_not_control(sumo, tmp_path):
    """sumo-control needs only the signals: an all-way stop downstream of the signal does not stop it."""
    pytest.importorskip("libsumo", reason="libsumo is not installed (the 'sumo' extra)")
    from simulation.sumo_control import run_config

    nodes = [("T", 0, 0, "traffic_light"), ("A", 300, 0, "allway_stop"), ("W", -300, 0, ""), ("E", 600, 0, ""),
             ("TS", 0, -300, ""), ("AS", 300, -300, "")]
    edges = [("W_T", "W", "T", 1, ""), ("T_A", "T", "A", 1, ""), ("A_E", "A", "E", 1, ""),
             ("TS_T", "TS", "T", 1, ""), ("AS_A", "AS", "A", 1, "")]
    _netconvert(sumo, tmp_path, nodes, edges)
    _routes(tmp_path, [("main", "W_T T_A A_E", 500), ("side", "TS_T T_A A_E", 300), ("other", "AS_A A_E", 300)],
            end_s=200.0)
    cfg = tmp_path / "n.sumocfg"
    cfg.write_text('<configuration><input><net-file value="n.net.xml"/><route-files value="n.rou.xml"/></input>'
                   '<time><begin value="0"/><end value="300"/></time></configuration>')
    out = run_config(cfg, "max-pressure", 1)
    assert out["trips"] > 30 and out["control_steps"] == 60
