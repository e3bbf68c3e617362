"""Build ``data/scenarios/arterial_timevarying.json`` from the reference arterial.

3 h in 15-min slices. Every flow is scaled by a profile that rises from 60 % to 120 % of the
reference demand and falls to 70 %; the heavier through direction switches from eastbound to
westbound half-way (the eastbound and westbound flows, through and turning, swap volumes).

    python data/tools/make_arterial_timevarying.py [-o data/scenarios/arterial_timevarying.json]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from traffic.demand import FlowSlice  # noqa: E402
from traffic.scenario_io import load_scenario, save_scenario  # noqa: E402

SLICE_S = 900.0
PROFILE = (0.60, 0.75, 0.90, 1.05, 1.20, 1.20, 1.10, 1.00, 0.90, 0.80, 0.75, 0.70)
"""Share of the reference demand in each 15-min slice."""


def _partner(flow_id: str) -> str | None:
    """The opposite-direction twin of an eastbound or westbound flow (EB_to_N3 <-> WB_to_N3)."""
    for a, b in (("EB_", "WB_"), ("WB_", "EB_")):
        if flow_id.startswith(a):
            return b + flow_id[len(a):]
    return None


def build() -> object:
    base = load_scenario("arterial")
    rate = {f.id: f.slices[0].flow_veh_h for f in base.demand.flows}
    half = len(PROFILE) // 2
    flows = []
    for f in base.demand.flows:
        partner = _partner(f.id)
        slices = []
        for k, share in enumerate(PROFILE):
            source = partner if (partner and k >= half) else f.id
            slices.append(FlowSlice(k * SLICE_S, (k + 1) * SLICE_S, round(rate[source] * share, 3)))
        flows.append(replace(f, slices=tuple(slices)))
    demand = replace(base.demand, flows=tuple(flows))
    return replace(base, name="arterial_timevarying", demand=demand, begin_s=0.0, end_s=len(PROFILE) * SLICE_S,
                   description="reference arterial, 3 h: demand 60 % -> 120 % -> 70 %, heavier through "
                               "direction eastbound then westbound")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=str(REPO / "data" / "scenarios" / "arterial_timevarying.json"))
    args = ap.parse_args()
    scenario = build()
    save_scenario(scenario, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
