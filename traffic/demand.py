"""Travel demand: routes, time-sliced flows (per route or origin-destination) and single trips.

Arrival processes follow SUMO's flow definitions, so imported demand means the same thing here:
``poisson`` (``period="exp(R)"``), ``uniform`` (``vehsPerHour``/``period``/``number``: evenly
spaced) and ``bernoulli`` (``probability``: one draw per second).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from traffic.errors import ModelError
from traffic.frozen import FrozenMap
from traffic.vehicles import DEFAULT_VEHICLE_TYPE, VehicleType


class Arrivals(StrEnum):
    POISSON = "poisson"
    UNIFORM = "uniform"
    BERNOULLI = "bernoulli"


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    links: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", tuple(self.links))
        if not self.links:
            raise ModelError(f"route {self.id!r}: has no links")


@dataclass(frozen=True, slots=True)
class FlowSlice:
    """A constant flow rate over ``[begin_s, end_s)``."""

    begin_s: float
    end_s: float
    flow_veh_h: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.begin_s) and math.isfinite(self.end_s)) or self.end_s <= self.begin_s:
            raise ModelError(f"flow slice [{self.begin_s}, {self.end_s}): end_s must be after begin_s")
        if not math.isfinite(self.flow_veh_h) or self.flow_veh_h < 0:
            raise ModelError(f"flow slice [{self.begin_s}, {self.end_s}): flow_veh_h (={self.flow_veh_h}) "
                             "must be >= 0")


@dataclass(frozen=True, slots=True)
class Flow:
    """Vehicles of one type entering over time, on a named route or between two links (OD)."""

    id: str
    slices: tuple[FlowSlice, ...]
    route: str | None = None
    origin: str | None = None
    destination: str | None = None
    vehicle_type: str = DEFAULT_VEHICLE_TYPE.id
    arrivals: Arrivals = Arrivals.POISSON

    def __post_init__(self) -> None:
        object.__setattr__(self, "slices", tuple(sorted(self.slices, key=lambda s: s.begin_s)))
        object.__setattr__(self, "arrivals", Arrivals(self.arrivals))
        if not self.slices:
            raise ModelError(f"flow {self.id!r}: has no time slices")
        for a, b in zip(self.slices, self.slices[1:], strict=False):
            if b.begin_s < a.end_s:
                raise ModelError(f"flow {self.id!r}: slices [{a.begin_s}, {a.end_s}) and "
                                 f"[{b.begin_s}, {b.end_s}) overlap")
        if (self.route is None) == (self.origin is None or self.destination is None):
            raise ModelError(f"flow {self.id!r}: give either a route or both origin and destination")

    @property
    def begin_s(self) -> float:
        return self.slices[0].begin_s

    @property
    def end_s(self) -> float:
        return self.slices[-1].end_s

    def flow_veh_h_at(self, t_s: float) -> float:
        for s in self.slices:
            if s.begin_s <= t_s < s.end_s:
                return s.flow_veh_h
        return 0.0

    def expected_vehicles(self) -> float:
        return sum(s.flow_veh_h * (s.end_s - s.begin_s) / 3600.0 for s in self.slices)

    def arrival_times_s(self, rng: np.random.Generator) -> NDArray[np.float64]:
        """Sorted entry times of this flow's vehicles, drawn with ``rng``."""
        parts = [_slice_arrivals(s, self.arrivals, rng) for s in self.slices]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0)

    def scaled(self, factor: float) -> Flow:
        return replace(self, slices=tuple(replace(s, flow_veh_h=s.flow_veh_h * factor) for s in self.slices))


def _slice_arrivals(s: FlowSlice, kind: Arrivals, rng: np.random.Generator) -> NDArray[np.float64]:
    span = s.end_s - s.begin_s
    rate_s = s.flow_veh_h / 3600.0
    if rate_s <= 0:
        return np.empty(0)
    if kind is Arrivals.POISSON:
        n = rng.poisson(rate_s * span)
        return s.begin_s + np.sort(rng.random(n)) * span
    if kind is Arrivals.UNIFORM:
        period = 1.0 / rate_s
        return s.begin_s + np.arange(0.0, span, period)
    seconds = s.begin_s + np.arange(0.0, math.ceil(span))
    return seconds[rng.random(seconds.size) < min(1.0, rate_s)]


@dataclass(frozen=True, slots=True)
class Trip:
    """One vehicle with a fixed departure, on a named route or between two links."""

    id: str
    depart_s: float
    route: str | None = None
    origin: str | None = None
    destination: str | None = None
    vehicle_type: str = DEFAULT_VEHICLE_TYPE.id

    def __post_init__(self) -> None:
        if not math.isfinite(self.depart_s):
            raise ModelError(f"trip {self.id!r}: depart_s must be finite")
        if (self.route is None) == (self.origin is None or self.destination is None):
            raise ModelError(f"trip {self.id!r}: give either a route or both origin and destination")


@dataclass(frozen=True)
class Demand:
    """Vehicle types, routes, flows and trips of a scenario."""

    vehicle_types: Mapping[str, VehicleType]
    routes: Mapping[str, Route]
    flows: tuple[Flow, ...] = ()
    trips: tuple[Trip, ...] = ()

    def __post_init__(self) -> None:
        types = dict(self.vehicle_types) or {DEFAULT_VEHICLE_TYPE.id: DEFAULT_VEHICLE_TYPE}
        object.__setattr__(self, "vehicle_types", FrozenMap(types))
        object.__setattr__(self, "routes", FrozenMap(dict(self.routes)))
        object.__setattr__(self, "flows", tuple(self.flows))
        object.__setattr__(self, "trips", tuple(self.trips))
        seen: set[str] = set()
        items: tuple[Flow | Trip, ...] = (*self.flows, *self.trips)
        for item in items:
            kind = "flow" if isinstance(item, Flow) else "trip"
            if item.id in seen:
                raise ModelError(f"duplicate flow/trip id {item.id!r}")
            seen.add(item.id)
            if item.route is not None and item.route not in self.routes:
                raise ModelError(f"{kind} {item.id!r}: unknown route {item.route!r}")
            if item.vehicle_type not in self.vehicle_types:
                raise ModelError(f"{kind} {item.id!r}: unknown vehicle type {item.vehicle_type!r}")

    @classmethod
    def build(cls, vehicle_types: Iterable[VehicleType], routes: Iterable[Route],
              flows: Iterable[Flow] = (), trips: Iterable[Trip] = ()) -> Demand:
        return cls({t.id: t for t in vehicle_types}, {r.id: r for r in routes}, tuple(flows), tuple(trips))

    @property
    def begin_s(self) -> float:
        starts = [f.begin_s for f in self.flows] + [t.depart_s for t in self.trips]
        return min(starts) if starts else 0.0

    @property
    def end_s(self) -> float:
        ends = [f.end_s for f in self.flows] + [t.depart_s for t in self.trips]
        return max(ends) if ends else 0.0

    def expected_vehicles(self) -> float:
        return sum(f.expected_vehicles() for f in self.flows) + len(self.trips)

    def pcu(self, vehicle_type: str) -> float:
        return self.vehicle_types[vehicle_type].pcu

    def scaled(self, factor: float) -> Demand:
        """Demand with every flow multiplied by ``factor`` (trips unchanged)."""
        if not math.isfinite(factor) or factor < 0:
            raise ModelError(f"demand scale (={factor}) must be >= 0")
        return replace(self, flows=tuple(f.scaled(factor) for f in self.flows))
