"""Level of service, v/c and delay against hand calculations."""

from __future__ import annotations

import pytest

from api.los import group_green_s, lane_group_figures, level_of_service
from tests.api.conftest import _arterial


@pytest.mark.parametrize(("delay_s", "los"), [
    (0.0, "A"), (10.0, "A"),      # A: <= 10 s
    (10.1, "B"), (20.0, "B"),     # B: <= 20 s
    (35.0, "C"), (55.0, "D"),     # C: <= 35 s, D: <= 55 s
    (80.0, "E"), (80.1, "F"),     # E: <= 80 s, F: above
])
def test_hcm_los_thresholds(delay_s, los):
    assert level_of_service(delay_s) == los


def test_vc_and_webster_delay_by_hand():
    sc = _arterial()
    inter, plan = sc.intersections["I1"], sc.active_plan("I1")
    group = next(g for g in inter.lane_groups if g.id == "W_I1#0")  # through + right, 1 lane, main phase
    assert group_green_s(plan, group) == 50.0
    flows = {m: 0.0 for m in inter.movements}
    flows["W_I1>I1_S1"] = 430.25  # this movement is in this group only
    row = next(r for r in lane_group_figures(inter, plan, flows, None) if r["id"] == "W_I1#0")
    cap = 1721.0 * 50.0 / 90.0  # 956.1 veh/h
    x = 430.25 / cap
    assert row["v_c"] == pytest.approx(x, abs=1e-3)
    # Webster uniform delay d1 = 0.5 C (1 - g/C)^2 / (1 - x g/C); HCM incremental d2 with T = 1 h, k = 0.5
    lam = 50.0 / 90.0
    d1 = 0.5 * 90.0 * (1 - lam) ** 2 / (1 - x * lam)
    d2 = 900 * ((x - 1) + ((x - 1) ** 2 + 8 * 0.5 * x / cap) ** 0.5)
    assert row["delay_s"] == pytest.approx(d1 + d2, abs=0.05)
    assert row["los"] == level_of_service(d1 + d2) == "B"
    assert row["queue_veh"] == pytest.approx(430.25 / 3600 * 40.0, abs=0.05)  # arrivals during red


def test_vc_and_los_use_pcu_when_given():
    """An 85 % motorbike flow of 1200 veh/h is 486 PCU/h (0.3 PCU per motorbike): v/c and delay come from PCU."""
    sc = _arterial()
    inter, plan = sc.intersections["I1"], sc.active_plan("I1")
    flows = {m: 0.0 for m in inter.movements}
    flows_pcu = dict(flows)
    flows["W_I1>I1_S1"] = 1200.0
    flows_pcu["W_I1>I1_S1"] = 1200.0 * (0.85 * 0.3 + 0.15)
    per_veh = next(r for r in lane_group_figures(inter, plan, flows, None) if r["id"] == "W_I1#0")
    per_pcu = next(r for r in lane_group_figures(inter, plan, flows, None, flows_pcu) if r["id"] == "W_I1#0")
    cap = 1721.0 * 50.0 / 90.0
    assert per_veh["v_c"] == pytest.approx(1200.0 / cap, abs=1e-3) and per_veh["los"] == "F"
    assert per_pcu["v_c"] == pytest.approx(486.0 / cap, abs=1e-3) and per_pcu["los"] in "AB"
    assert per_pcu["flow_veh_h"] == 1200.0 and per_pcu["flow_pcu_h"] == 486.0
