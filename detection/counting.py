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
        crossing_s: for a line, the stream time at which the track's path met the line, interpolated
            between its last position on one side and its first on the other (the same at every
            stride, unlike ``timestamp_s``); None for zones.
        crossing_px: where on the line that was (image pixels); None for zones.
    """

    counter: str
    direction: Direction
    key: str | None
    track_id: int
    vehicle_class: str
    frame_index: int
    timestamp_s: float
    crossing_s: float | None = None
    crossing_px: tuple[float, float] | None = None


class Counter(Protocol):
    """A counting strategy fed with the tracks of each processed frame, in order."""

    name: str

    def update(self, tracks: Detections, frame_index: int, timestamp_s: float) -> list[CountEvent]:
        """Consume one frame's tracks (with majority-vote classes); return the counts it completes."""
        ...
