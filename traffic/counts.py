"""Interval counts: the one currency between cameras, virtual detectors and controllers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from traffic.errors import ModelError
from traffic.frozen import FrozenMap
from traffic.pcu import pcu_of, pcu_table


class Health(StrEnum):
    """State of a count source; anything but ``OK`` means its counts should not be trusted."""

    OK = "ok"
    FROZEN = "frozen"
    BLANK = "blank"
    LOST = "lost"
    LOW_CONFIDENCE = "low_confidence"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class IntervalCounts:
    """Vehicles counted during ``[start_s, start_s + duration_s)`` by one source.

    Attributes:
        source: camera or detector id.
        counts: ``key -> vehicle class -> vehicles``; a key is a movement id, an approach
            (link) id, or a count-line name, as the source was configured.
        queues_veh: optional queue length per key at the end of the interval.
        pcu: passenger-car units per class used by ``flow_pcu_h`` (``traffic.pcu``; a class it lacks is a car).
    """

    source: str
    start_s: float
    duration_s: float
    counts: Mapping[str, Mapping[str, int]]
    intersection: str | None = None
    queues_veh: Mapping[str, float] = field(default_factory=dict)
    health: Health = Health.OK
    pcu: Mapping[str, float] = field(default_factory=pcu_table)

    def __post_init__(self) -> None:
        if not math.isfinite(self.duration_s) or self.duration_s <= 0:
            raise ModelError(f"counts from {self.source!r}: duration_s (={self.duration_s}) must be > 0")
        frozen = {}
        for key, by_class in self.counts.items():
            for cls, n in by_class.items():
                if n < 0:
                    raise ModelError(f"counts from {self.source!r}: {key}/{cls} (={n}) must be >= 0")
            frozen[key] = FrozenMap(dict(by_class))
        object.__setattr__(self, "counts", FrozenMap(frozen))
        object.__setattr__(self, "queues_veh", FrozenMap(dict(self.queues_veh)))
        object.__setattr__(self, "pcu", FrozenMap(dict(self.pcu)))
        object.__setattr__(self, "health", Health(self.health))

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def vehicles(self, key: str) -> int:
        return sum(self.counts.get(key, {}).values())

    def pcus(self, key: str) -> float:
        return pcu_of(self.counts.get(key, {}), self.pcu)

    def flow_veh_h(self, key: str) -> float:
        return self.vehicles(key) * 3600.0 / self.duration_s

    def flow_pcu_h(self, key: str) -> float:
        return self.pcus(key) * 3600.0 / self.duration_s

    def flows_veh_h(self) -> dict[str, float]:
        return {key: self.flow_veh_h(key) for key in self.counts}
