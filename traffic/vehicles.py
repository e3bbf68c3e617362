"""Vehicle types and passenger-car units (PCU) for mixed traffic."""

from __future__ import annotations

from dataclasses import dataclass

from traffic.checks import require
from traffic.errors import ModelError

VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck", "bicycle")
"""Classes counted by cameras and reported by the simulator."""

DEFAULT_PCU = {"car": 1.0, "motorcycle": 0.3, "bus": 2.0, "truck": 2.0, "bicycle": 0.2}
"""Passenger-car units per class. Motorcycles at 0.3 PCU follow studies of motorbike-dominated
traffic in Vietnamese cities; override per scenario (``VehicleType.pcu``)."""

DEFAULT_WIDTH_M = {"car": 1.8, "motorcycle": 0.9, "bus": 2.5, "truck": 2.4, "bicycle": 0.65}
"""Vehicle width per class (SUMO 1.28's vClass defaults), used where a vehicle type gives none."""

DEFAULT_MIN_GAP_LAT_M = 0.6
"""Lateral gap a driver keeps to the vehicle beside it (SUMO's ``minGapLat`` default)."""

_SUMO_VCLASS = {
    "passenger": "car", "private": "car", "taxi": "car", "evehicle": "car", "delivery": "car",
    "emergency": "car", "authority": "car", "army": "car", "custom1": "car", "custom2": "car",
    "motorcycle": "motorcycle", "moped": "motorcycle",
    "bus": "bus", "coach": "bus", "tram": "bus",
    "truck": "truck", "trailer": "truck",
    "bicycle": "bicycle",
}


def class_from_sumo(vclass: str) -> str:
    """Greenwave class of a SUMO ``vClass`` (unknown classes count as cars)."""
    return _SUMO_VCLASS.get(vclass, "car")


@dataclass(frozen=True, slots=True)
class VehicleType:
    """A vehicle type; the defaults are SUMO's passenger car (Krauss model, REPORT conventions).

    ``speed_factor`` and ``speed_dev`` give each vehicle a desired speed of
    ``speed_limit * N(speed_factor, speed_dev)``, truncated to [0.8, 1.2] x speed_factor as SUMO does.
    ``width_m`` (omitted: the class's ``DEFAULT_WIDTH_M``) and ``min_gap_lat_m`` (the lateral gap kept to
    a vehicle alongside, SUMO's ``minGapLat``) decide how many queue abreast in a lane and whether the
    type filters past standing vehicles (``simulation.mixed_queue``); length and ``min_gap_m`` decide
    the room it takes in a queue and its saturation headway.
    """

    id: str
    vehicle_class: str = "car"
    pcu: float = None  # type: ignore[assignment]  # None: the class's default PCU (DEFAULT_PCU)
    length_m: float = 5.0
    min_gap_m: float = 2.5
    max_speed_m_s: float = 55.56
    accel_m_s2: float = 2.6
    decel_m_s2: float = 4.5
    sigma: float = 0.5
    tau_s: float = 1.0
    speed_factor: float = 1.0
    speed_dev: float = 0.1
    width_m: float = None  # type: ignore[assignment]  # None: the class's default width (DEFAULT_WIDTH_M)
    min_gap_lat_m: float = DEFAULT_MIN_GAP_LAT_M

    def __post_init__(self) -> None:
        if self.vehicle_class not in VEHICLE_CLASSES:
            raise ModelError(f"vehicle type {self.id!r}: vehicle_class {self.vehicle_class!r} "
                             f"must be one of {', '.join(VEHICLE_CLASSES)}")
        if self.pcu is None:
            object.__setattr__(self, "pcu", DEFAULT_PCU[self.vehicle_class])
        if self.width_m is None:
            object.__setattr__(self, "width_m", DEFAULT_WIDTH_M[self.vehicle_class])
        what = f"vehicle type {self.id!r}"
        require(self, ("pcu", "length_m", "max_speed_m_s", "accel_m_s2", "decel_m_s2", "speed_factor", "width_m"),
                strict=True, what=what)
        require(self, ("min_gap_m", "sigma", "tau_s", "speed_dev", "min_gap_lat_m"), what=what)

    @property
    def jam_spacing_m(self) -> float:
        return self.length_m + self.min_gap_m


DEFAULT_VEHICLE_TYPE = VehicleType(id="car")
