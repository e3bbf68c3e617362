"""Signal plans: a cycle of phases, each a green interval followed by yellow and all-red.

A phase gives green to ``protected`` movements (SUMO ``G``: they have right of way) and
``permissive`` ones (``g``: they yield to conflicting traffic, e.g. a left turn across the
opposing through flow). When the phase ends, its green movements show yellow and then red,
except ``carry_over`` movements, which stay green into the next phase (overlaps, as in real
programs).

Offsets follow SUMO: the position in the cycle at time ``t`` is ``(t - offset_s) mod cycle_s``,
so a positive offset delays the program.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from traffic.errors import ModelError


class Interval(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    ALL_RED = "all_red"


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase: ``green_s`` of green, then ``yellow_s`` of yellow and ``all_red_s`` of all-red."""

    name: str
    green_s: float
    yellow_s: float
    all_red_s: float
    protected: frozenset[str] = frozenset()
    permissive: frozenset[str] = frozenset()
    carry_over: frozenset[str] = frozenset()
    yellow_name: str = ""
    all_red_name: str = ""

    def __post_init__(self) -> None:
        for attr in ("protected", "permissive", "carry_over"):
            object.__setattr__(self, attr, frozenset(getattr(self, attr)))
        for attr in ("green_s", "yellow_s", "all_red_s"):
            value = getattr(self, attr)
            if not math.isfinite(value) or value < 0:
                raise ModelError(f"phase {self.name!r}: {attr} (={value}) must be a finite number >= 0")
        both = self.protected & self.permissive
        if both:
            raise ModelError(f"phase {self.name!r}: movements {sorted(both)} are both protected and permissive")
        stray = self.carry_over - self.green_movements
        if stray:
            raise ModelError(f"phase {self.name!r}: carry_over {sorted(stray)} are not green in this phase")

    @property
    def green_movements(self) -> frozenset[str]:
        return self.protected | self.permissive

    @property
    def duration_s(self) -> float:
        return self.green_s + self.yellow_s + self.all_red_s

    @property
    def ending(self) -> frozenset[str]:
        """Movements whose green ends with this phase (they show yellow, then red)."""
        return self.green_movements - self.carry_over

    def state_of(self, movement_id: str, interval: Interval) -> str:
        """SUMO signal character of a movement during one interval of this phase."""
        if movement_id in self.protected:
            green = "G"
        elif movement_id in self.permissive:
            green = "g"
        else:
            return "r"
        if interval is Interval.GREEN or movement_id in self.carry_over:
            return green
        return "y" if interval is Interval.YELLOW else "r"


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """A fixed-time program for one intersection.

    Attributes:
        intersection: id of the intersection it controls.
        name: program name (SUMO ``programID``).
        cycle_s: cycle length; a safe plan's phases sum to it exactly.
        offset_s: SUMO offset (position in cycle = (t - offset_s) mod cycle_s).
    """

    intersection: str
    name: str
    cycle_s: float
    offset_s: float
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases", tuple(self.phases))
        if not math.isfinite(self.cycle_s) or self.cycle_s <= 0:
            raise ModelError(f"plan {self.name!r} of {self.intersection!r}: cycle_s (={self.cycle_s}) must be > 0")
        if not math.isfinite(self.offset_s):
            raise ModelError(f"plan {self.name!r} of {self.intersection!r}: offset_s (={self.offset_s}) must be finite")
        if not self.phases:
            raise ModelError(f"plan {self.name!r} of {self.intersection!r}: needs at least one phase")

    @property
    def phases_total_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def served_movements(self) -> frozenset[str]:
        return frozenset().union(*(p.green_movements for p in self.phases))

    def position_s(self, t_s: float) -> float:
        """Position in the cycle at time ``t_s`` (SUMO semantics)."""
        return (t_s - self.offset_s) % self.cycle_s

    def intervals(self) -> list[tuple[int, Interval, float]]:
        """The cycle as ``(phase index, interval, duration_s)``, skipping zero-length intervals."""
        out: list[tuple[int, Interval, float]] = []
        for i, phase in enumerate(self.phases):
            for kind, dur in ((Interval.GREEN, phase.green_s), (Interval.YELLOW, phase.yellow_s),
                              (Interval.ALL_RED, phase.all_red_s)):
                if dur > 0:
                    out.append((i, kind, dur))
        return out

    def interval_at(self, t_s: float) -> tuple[int, Interval, float]:
        """``(phase index, interval, seconds left in it)`` at time ``t_s``."""
        pos = self.position_s(t_s)
        start = 0.0
        intervals = self.intervals()
        for i, kind, dur in intervals:
            if pos < start + dur:
                return i, kind, start + dur - pos
            start += dur
        i, kind, _ = intervals[-1]
        return i, kind, 0.0

    def state_at(self, t_s: float, movement_ids: Iterable[str]) -> dict[str, str]:
        """Signal character (G, g, y, r) of each movement at time ``t_s``."""
        index, kind, _ = self.interval_at(t_s)
        phase = self.phases[index]
        return {m: phase.state_of(m, kind) for m in movement_ids}

    def phase_start_s(self, index: int) -> float:
        """Cycle position where phase ``index``'s green starts."""
        return sum(p.duration_s for p in self.phases[:index])

    def with_offset(self, offset_s: float) -> SignalPlan:
        return replace(self, offset_s=offset_s % self.cycle_s)

    def with_greens(self, greens_s: Sequence[float], name: str | None = None) -> SignalPlan:
        """A new plan with these green times; the cycle becomes the new phase total."""
        if len(greens_s) != len(self.phases):
            raise ModelError(f"plan {self.name!r}: {len(greens_s)} greens given for {len(self.phases)} phases")
        phases = tuple(replace(p, green_s=float(g)) for p, g in zip(self.phases, greens_s, strict=True))
        cycle = sum(p.duration_s for p in phases)
        return replace(self, phases=phases, cycle_s=cycle, offset_s=self.offset_s % cycle,
                       name=self.name if name is None else name)
