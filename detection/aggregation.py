"""Count events to ``IntervalCounts`` per fixed interval: the currency the optimiser consumes."""

from __future__ import annotations

import math
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from detection.counting import CountEvent
from traffic.counts import Health, IntervalCounts
from traffic.pcu import pcu_table


@dataclass
class _Bin:
    counts: dict[str, Tally[str]] = field(default_factory=lambda: defaultdict(Tally))
    health: Tally[Health] = field(default_factory=Tally)
    queues: dict[str, float] = field(default_factory=dict)


class IntervalAggregator:
    """Bins count events by stream time into ``[start_s + k * interval_s, start_s + (k + 1) * interval_s)``.

    An interval is emitted once stream time has passed its end by ``lag_s`` (so events whose class
    is settled a little after the crossing still land in the interval of the crossing). Its health is
    the non-OK state that held for the most processed frames if that is at least ``unhealthy_share``
    of them, else ``OK``; with no processed frame at all, ``LOST``.

    Args:
        source: camera id written into each ``IntervalCounts``.
        interval_s: interval length (15 s to 15 min is usual for signal control).
        keys: keys always present (with zero counts), e.g. every movement the camera covers.
        start_s: stream time at which the first interval starts.
    """

    def __init__(self, source: str, interval_s: float, keys: Iterable[str] = (), intersection: str | None = None,
                 start_s: float = 0.0, lag_s: float = 0.0, pcu: Mapping[str, float] | None = None,
                 unhealthy_share: float = 0.1) -> None:
        if not math.isfinite(interval_s) or interval_s <= 0:
            raise ValueError(f"interval_s (={interval_s}) must be > 0")
        self.source, self.interval_s, self.intersection = source, interval_s, intersection
        self.keys = tuple(dict.fromkeys(keys))
        self.pcu = pcu_table(pcu)  # the defaults, with the given classes' PCU on top
        self.lag_s, self.unhealthy_share = lag_s, unhealthy_share
        self.start_s = start_s
        self._next = 0  # index of the first interval not yet emitted
        self._bins: dict[int, _Bin] = defaultdict(_Bin)

    def _index(self, timestamp_s: float) -> int:
        return max(self._next, math.floor((timestamp_s - self.start_s) / self.interval_s))

    def add_event(self, event: CountEvent) -> None:
        """Record one count (ignored when its key is None); a late event goes to the oldest open interval."""
        if event.key is not None:
            self._bins[self._index(event.timestamp_s)].counts[event.key][event.vehicle_class] += 1

    def add_health(self, timestamp_s: float, state: Health) -> None:
        """Record the camera's state for one processed frame."""
        self._bins[self._index(timestamp_s)].health[state] += 1

    def set_queue(self, timestamp_s: float, key: str, vehicles: float) -> None:
        """Vehicles waiting for ``key`` at ``timestamp_s`` (an interval reports its last value)."""
        self._bins[self._index(timestamp_s)].queues[key] = vehicles

    def advance(self, now_s: float) -> list[IntervalCounts]:
        """Emit every interval that ended at least ``lag_s`` before ``now_s``."""
        done = []
        while now_s >= self.start_s + (self._next + 1) * self.interval_s + self.lag_s:
            done.append(self._emit(self.interval_s))
        return done

    def flush(self, end_s: float) -> list[IntervalCounts]:
        """Emit every interval up to ``end_s``, the last one partial (shorter) if ``end_s`` falls inside it.

        A partial last interval without any processed frame (the stream ended right after a
        boundary) is dropped rather than reported as a lost camera.
        """
        done: list[IntervalCounts] = []
        while True:
            start = self.start_s + self._next * self.interval_s
            if end_s <= start + 1e-9:
                return done
            if end_s < start + self.interval_s and self._next not in self._bins:
                return done
            done.append(self._emit(min(self.interval_s, end_s - start)))

    def _emit(self, duration_s: float) -> IntervalCounts:
        b = self._bins.pop(self._next, _Bin())
        counts: dict[str, dict[str, int]] = {k: {} for k in self.keys}
        for key, by_class in b.counts.items():
            counts[key] = dict(by_class)
        result = IntervalCounts(self.source, self.start_s + self._next * self.interval_s, duration_s, counts,
                                self.intersection, dict(b.queues), self._health(b.health), self.pcu)
        self._next += 1
        return result

    def _health(self, tally: Tally[Health]) -> Health:
        total = sum(tally.values())
        if total == 0:
            return Health.LOST
        bad = [(n, s) for s, n in tally.items() if s is not Health.OK and n >= self.unhealthy_share * total]
        return max(bad, key=lambda x: x[0])[1] if bad else Health.OK
