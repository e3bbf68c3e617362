"""JSON file formats (pydantic models) for scenarios and plan files.

These models describe files only; ``traffic.scenario_io`` converts them to and from the domain
dataclasses. Unknown fields are rejected so that a typo is an error, not a silent default.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCENARIO_FORMAT: Final = "greenwave-scenario"
PLAN_FORMAT: Final = "greenwave-plan"
FORMAT_VERSION: Final = 1

NonNeg = Field(ge=0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeModel(_Strict):
    id: str = Field(min_length=1)
    kind: Literal["signal", "priority", "zipper", "allway_stop", "rail_crossing", "boundary"]
    x_m: float = 0.0
    y_m: float = 0.0


class LaneModel(_Strict):
    index: int = Field(ge=0)
    length_m: float = Field(gt=0)
    speed_m_s: float = Field(gt=0)
    movements: list[str] = []
    width_m: float = Field(default=3.2, gt=0, allow_inf_nan=False)


class LinkModel(_Strict):
    id: str = Field(min_length=1)
    from_node: str
    to_node: str
    name: str = ""
    lanes: list[LaneModel] = Field(min_length=1)


class MovementModel(_Strict):
    id: str = Field(min_length=1)
    node: str
    from_link: str
    to_link: str
    turn: Literal["s", "l", "r", "t"]
    from_lanes: list[int] = Field(min_length=1)
    to_lanes: list[int] = []
    internal_length_m: float = Field(default=0.0, ge=0)
    internal_speed_m_s: float = Field(default=13.89, gt=0)
    lane_pairs: list[tuple[int, int]] = []


class NetworkModel(_Strict):
    nodes: list[NodeModel] = Field(min_length=1)
    links: list[LinkModel] = Field(min_length=1)
    movements: list[MovementModel] = []
    yields: list[tuple[str, str]] = []


class PhaseModel(_Strict):
    name: str = ""
    green_s: float = Field(ge=0)
    yellow_s: float = Field(default=3.0, ge=0)
    all_red_s: float = Field(default=0.0, ge=0)
    protected: list[str] = []
    permissive: list[str] = []
    carry_over: list[str] = []
    yellow_name: str = ""
    all_red_name: str = ""


class PlanModel(_Strict):
    intersection: str | None = None
    name: str = Field(min_length=1)
    cycle_s: float = Field(gt=0)
    offset_s: float = 0.0
    phases: list[PhaseModel] = Field(min_length=1)


class CrossingModel(_Strict):
    id: str = Field(min_length=1)
    links: list[str] = Field(min_length=1)
    length_m: float = Field(gt=0, allow_inf_nan=False)


class IntersectionModel(_Strict):
    id: str = Field(min_length=1)
    nodes: list[str] = Field(min_length=1)
    conflicts: list[tuple[str, str]] = []
    yields: list[tuple[str, str]] = []
    signal_links: list[str | None] = []
    saturation_flow_veh_h: dict[str, float] = {}
    yield_controlled: list[str] = []
    """Movements the agency declares yield-controlled (e.g. a slip lane with a give-way sign): they may
    be green permissively against conflicting movements from any approach (``traffic.compatibility``)."""
    active_plan: str
    plans: list[PlanModel] = Field(min_length=1)
    crossings: list[CrossingModel] | None = None
    """Pedestrian crossings; ``None``: one per leg from the geometry, ``[]``: no pedestrians."""


class VehicleTypeModel(_Strict):
    id: str = Field(min_length=1)
    vehicle_class: Literal["car", "motorcycle", "bus", "truck", "bicycle"] = "car"
    pcu: float | None = Field(default=None, gt=0)
    """Passenger-car units; omitted: the class's default (``traffic.vehicles.DEFAULT_PCU``)."""
    length_m: float = Field(default=5.0, gt=0)
    min_gap_m: float = Field(default=2.5, ge=0)
    max_speed_m_s: float = Field(default=55.56, gt=0)
    accel_m_s2: float = Field(default=2.6, gt=0)
    decel_m_s2: float = Field(default=4.5, gt=0)
    sigma: float = Field(default=0.5, ge=0, le=1)
    tau_s: float = Field(default=1.0, ge=0)
    speed_factor: float = Field(default=1.0, gt=0)
    speed_dev: float = Field(default=0.1, ge=0)
    width_m: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Vehicle width; omitted: the class's default (``traffic.vehicles.DEFAULT_WIDTH_M``)."""
    min_gap_lat_m: float = Field(default=0.6, ge=0, allow_inf_nan=False)
    """Lateral gap kept to a vehicle alongside (SUMO's ``minGapLat``)."""


class RouteModel(_Strict):
    id: str = Field(min_length=1)
    links: list[str] = Field(min_length=1)


class FlowSliceModel(_Strict):
    begin_s: float
    end_s: float
    flow_veh_h: float = Field(ge=0)


class FlowModel(_Strict):
    id: str = Field(min_length=1)
    route: str | None = None
    origin: str | None = None
    destination: str | None = None
    vehicle_type: str = "car"
    arrivals: Literal["poisson", "uniform", "bernoulli"] = "poisson"
    slices: list[FlowSliceModel] = Field(min_length=1)


class TripModel(_Strict):
    id: str = Field(min_length=1)
    depart_s: float
    route: str | None = None
    origin: str | None = None
    destination: str | None = None
    vehicle_type: str = "car"


class DemandModel(_Strict):
    vehicle_types: list[VehicleTypeModel] = []
    routes: list[RouteModel] = []
    flows: list[FlowModel] = []
    trips: list[TripModel] = []


class ScenarioModel(_Strict):
    format: Literal["greenwave-scenario"] = SCENARIO_FORMAT
    version: Literal[1] = FORMAT_VERSION
    name: str = Field(min_length=1)
    description: str = ""
    begin_s: float = 0.0
    end_s: float = 3600.0
    network: NetworkModel
    intersections: list[IntersectionModel] = []
    demand: DemandModel = DemandModel()
    route_groups: dict[str, list[str]] = {}


class PlanFileModel(_Strict):
    format: Literal["greenwave-plan"] = PLAN_FORMAT
    version: Literal[1] = FORMAT_VERSION
    plans: list[PlanModel] = Field(min_length=1)
