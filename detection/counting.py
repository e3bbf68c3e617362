"""What counters emit and the protocol they share (``LineCounter``, ``ZoneCounter``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from detection.detections import Detections


class Direction(StrEnum):
    """Sense of a count: crossing a line IN or OUT, or entering a zone."""

    IN = "in"
    OUT = "out"
    ENTER = "enter"


@dataclass(frozen=True)
class CountEvent:
    """One vehicle counted once by one line or zone.

    Attributes:
        counter: name of the line or zone.
        key: what the count is for in ``IntervalCounts`` (movement, approach, ...); None = not aggregated.
        vehicle_class: the track's majority-vote class when it was counted.
        frame_index: index of the source frame in which the count happened.
        timestamp_s: stream time of that frame.
    """

    counter: str
    direction: Direction
    key: str | None
    track_id: int
    vehicle_class: str
    frame_index: int
    timestamp_s: float


class Counter(Protocol):
    """A counting strategy fed with the tracks of each processed frame, in order."""

    name: str

    def update(self, tracks: Detections, frame_index: int, timestamp_s: float) -> list[CountEvent]:
        """Consume one frame's tracks (with majority-vote classes); return the counts it completes."""
        ...
