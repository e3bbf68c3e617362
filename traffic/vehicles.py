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

    def __post_init__(self) -> None:
        if self.vehicle_class not in VEHICLE_CLASSES:
            raise ModelError(f"vehicle type {self.id!r}: vehicle_class {self.vehicle_class!r} "
                             f"must be one of {', '.join(VEHICLE_CLASSES)}")
        if self.pcu is None:
            object.__setattr__(self, "pcu", DEFAULT_PCU[self.vehicle_class])
        what = f"vehicle type {self.id!r}"
        require(self, ("pcu", "length_m", "max_speed_m_s", "accel_m_s2", "decel_m_s2", "speed_factor"),
                strict=True, what=what)
        require(self, ("min_gap_m", "sigma", "tau_s", "speed_dev"), what=what)

    @property
    def jam_spacing_m(self) -> float:
        return self.length_m + self.min_gap_m


DEFAULT_VEHICLE_TYPE = VehicleType(id="car")
