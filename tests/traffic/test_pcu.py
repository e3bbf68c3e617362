"""One conversion from vehicles by class to passenger-car units, configurable per scenario."""

from __future__ import annotations

import dataclasses

import pytest

from signal_control.movement_demand import movement_demand
from traffic.counts import IntervalCounts
from traffic.errors import ModelError
from traffic.pcu import class_pcu, pcu_of, pcu_table, scenario_pcu
from traffic.scenario_io import load_scenario
from traffic.vehicles import DEFAULT_PCU, VehicleType

MOTORBIKE_MIX = {"motorcycle": 85, "car": 15}  # 85 % motorbikes


def test_defaults_overrides_and_unknown_classes():
    assert pcu_table() == DEFAULT_PCU
    assert pcu_table({"motorcycle": 0.5})["motorcycle"] == 0.5 and pcu_table({"motorcycle": 0.5})["bus"] == 2.0
    assert class_pcu("tuk-tuk") == 1.0  # a class nobody configured counts as a car
    assert pcu_of(MOTORBIKE_MIX) == pytest.approx(85 * 0.3 + 15)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ModelError, match="motorcycle"):
            pcu_table({"motorcycle": bad})


def test_a_scenario_sets_each_class_pcu_through_its_vehicle_types():
    sc = load_scenario("arterial")
    assert scenario_pcu(sc)["motorcycle"] == DEFAULT_PCU["motorcycle"]  # no motorbike type: the default
    types = {**sc.demand.vehicle_types, "moto": VehicleType(id="moto", vehicle_class="motorcycle", pcu=0.5)}
    sc2 = dataclasses.replace(sc, demand=dataclasses.replace(sc.demand, vehicle_types=types))
    assert scenario_pcu(sc2)["motorcycle"] == 0.5 and scenario_pcu(sc2)["car"] == 1.0


def test_interval_counts_and_optimiser_demand_convert_through_the_same_table():
    sc = load_scenario("arterial")
    move = "W_I1>I1_I2"
    c = IntervalCounts("cam", 0.0, 3600.0, {move: MOTORBIKE_MIX})
    assert c.flow_pcu_h(move) == pytest.approx(pcu_of(MOTORBIKE_MIX)) == pytest.approx(40.5)
    d = movement_demand(sc, [c])[move]
    assert d.veh_h == pytest.approx(100.0) and d.pcu_h == pytest.approx(40.5)
    own = IntervalCounts("cam", 0.0, 3600.0, {move: MOTORBIKE_MIX}, pcu=pcu_table({"motorcycle": 0.5}))
    assert movement_demand(sc, [own])[move].pcu_h == pytest.approx(85 * 0.5 + 15)


def test_a_vehicle_type_without_a_pcu_takes_its_class_default(tmp_path):
    """A motorbike type written without ``pcu`` (in code or in a scenario file) is 0.3 PCU, not a car's 1.0."""
    import json

    from traffic.scenario_io import save_scenario

    assert VehicleType(id="moto", vehicle_class="motorcycle").pcu == DEFAULT_PCU["motorcycle"]
    assert VehicleType(id="bus", vehicle_class="bus").pcu == DEFAULT_PCU["bus"]
    path = tmp_path / "s.json"
    save_scenario(load_scenario("isolated_x050"), path)
    doc = json.loads(path.read_text())
    doc["demand"]["vehicle_types"].append({"id": "moto", "vehicle_class": "motorcycle"})
    path.write_text(json.dumps(doc))
    assert load_scenario(path).demand.vehicle_types["moto"].pcu == DEFAULT_PCU["motorcycle"]
