"""What the import of a real city keeps: ingolstadt7's counts, its unsignalised junctions' right of
way, lanes feeding turn pockets, buses; and SUMO junction types built with netconvert."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from traffic.network import NodeKind
from traffic.sumo import import_sumo, import_sumocfg


@pytest.fixture(scope="module")
def ing7():
    from tests.conftest import RESCO

    if not RESCO.is_dir():
        pytest.skip(f"RESCO ingolstadt7 not found at {RESCO}")
    return import_sumocfg(RESCO / "ingolstadt7.sumocfg")


def test_counts_of_the_real_config(ing7):
    net = ing7.network
    assert (ing7.name, ing7.begin_s, ing7.end_s) == ("ingolstadt7", 57600.0, 61200.0)
    assert len(ing7.intersections) == 7 and len(net.links) == 95 and len(net.nodes) == 56
    assert sum(link.num_lanes for link in net.links.values()) == 276
    kinds = [n.kind for n in net.nodes.values()]
    assert (kinds.count(NodeKind.SIGNAL), kinds.count(NodeKind.PRIORITY)) == (7, 36)
    trips = ing7.demand.trips
    assert len(trips) == 3031 and all(t.route is None for t in trips)
    buses = [t for t in trips if ing7.demand.vehicle_types[t.vehicle_type].vehicle_class == "bus"]
    assert len(buses) == 38
    bus = ing7.demand.vehicle_types[buses[0].vehicle_type]
    assert (bus.pcu, bus.length_m, bus.accel_m_s2) == (2.0, 12.0, 1.2)
    assert ing7.demand.pcu(trips[0].vehicle_type) == 1.0


def test_unsignalised_junctions_keep_their_right_of_way(ing7):
    """SUMO's response bits at the 35 priority junctions: 27 give-way pairs; e.g. at 32564123 the
    left turn out of the side road gives way to the main road's through traffic."""
    net = ing7.network
    assert len(net.yields) == 27
    assert all(net.nodes[net.movements[a].node].kind is NodeKind.PRIORITY for a, _ in net.yields)
    assert "168702039#1>32999434#0" in net.yields_at("24634414#5.51>32999110#0")
    assert net.yields_at("168702039#1>32999434#0") == ()  # the main road gives way to nobody
    # the one right_before_left junction joins two roads without crossing paths: nothing to give way to
    rbl = [m.id for m in net.movements.values() if m.node == "1833941877"]
    assert rbl and all(net.yields_at(m) == () for m in rbl)


def test_lanes_feeding_a_turn_pocket_keep_their_connections(ing7):
    """285716192#0 (lanes 1-2) widens into 285716192#0.83 (lanes 1-4, 11.8 m, shorter than the link
    before it): lane 1 feeds lanes 1-3, lane 2 feeds lane 4; lanes serve several movements."""
    net = ing7.network
    widen = net.movement_between("285716192#0", "285716192#0.83")
    assert widen.lane_pairs == ((1, 1), (1, 2), (1, 3), (2, 4))
    assert widen.reachable_lanes(2) == (4,)
    assert net.links["285716192#0.83"].length_m < 0.2 * net.links["285716192#0"].length_m
    shared = [lane for link in net.links.values() for lane in link.lanes if len(lane.movements) > 1]
    assert shared, "lanes that serve several movements"
    assert net.movement_between("201963537#1", "104010475#0").lane_pairs == ((1, 1), (2, 2))  # not crossed over
    # where every lane reaches every lane, the lane lists say it all
    assert net.movement_between("315358253#2", "402600768#0").lane_pairs == ()


def _net(tmp_path: Path, sumo: str, junction_type: str) -> Path:
    """A cross with the main road W-E (priority 2) and a side road S->N (priority 1), via netconvert."""
    (tmp_path / "n.nod.xml").write_text(
        f'<nodes><node id="C" x="0" y="0" type="{junction_type}"/><node id="W" x="-200" y="0"/>'
        '<node id="E" x="200" y="0"/><node id="S" x="0" y="-200"/><node id="N" x="0" y="200"/></nodes>')
    edges = [("W_C", "W", "C", 2), ("C_E", "C", "E", 2), ("E_C", "E", "C", 2), ("C_W", "C", "W", 2),
             ("S_C", "S", "C", 1), ("C_N", "C", "N", 1)]
    (tmp_path / "n.edg.xml").write_text("<edges>" + "".join(
        f'<edge id="{e}" from="{a}" to="{b}" priority="{p}" numLanes="1" speed="13.89"/>' for e, a, b, p in edges)
        + "</edges>")
    out = tmp_path / "n.net.xml"
    netconvert = Path(sumo).parent / "netconvert"
    if not netconvert.exists():
        pytest.skip("netconvert is not installed beside sumo")
    subprocess.run([str(netconvert), "-n", str(tmp_path / "n.nod.xml"), "-e", str(tmp_path / "n.edg.xml"),
                    "-o", str(out), "--no-turnarounds"], check=True, capture_output=True, timeout=60)
    return out


@pytest.mark.sumo
def test_priority_junction_built_by_netconvert(sumo, tmp_path):
    net = import_sumo(_net(tmp_path, sumo, "priority")).network
    assert set(net.yields_at("S_C>C_N")) == {"W_C>C_E", "E_C>C_W", "W_C>C_N", "E_C>C_N"}
    assert net.yields_at("W_C>C_E") == () and net.yields_at("E_C>C_W") == ()
    assert set(net.yields_at("W_C>C_N")) == {"E_C>C_W", "E_C>C_N"}  # the main road's left turn too


@pytest.mark.sumo
def test_right_before_left_built_by_netconvert(sumo, tmp_path):
    net = import_sumo(_net(tmp_path, sumo, "right_before_left")).network
    assert "E_C>C_W" in net.yields_at("S_C>C_N")  # from the south, the east approach is on the right
    assert "S_C>C_N" in net.yields_at("W_C>C_E")  # from the west, the south approach is on the right
    assert "S_C>C_N" not in net.yields_at("E_C>C_W")


@pytest.mark.sumo
@pytest.mark.parametrize("junction_type, kind", [("allway_stop", NodeKind.ALLWAY_STOP), ("zipper", NodeKind.ZIPPER)])
def test_junction_types_that_take_turns_import(sumo, tmp_path, junction_type, kind):
    """Once refused: SUMO's bits make every conflicting movement give way to every other (both ways)."""
    net = import_sumo(_net(tmp_path, sumo, junction_type)).network
    assert net.nodes["C"].kind is kind
    assert "S_C>C_N" in net.yields_at("W_C>C_E") and "W_C>C_E" in net.yields_at("S_C>C_N")
