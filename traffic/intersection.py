"""Intersections: approaches, movements, lane groups and the conflict matrix.

An ``Intersection`` is one signal controller. It usually sits on one node, but a SUMO
traffic-light cluster may span several nodes, so it lists them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from traffic.errors import ModelError
from traffic.frozen import FrozenMap


class Turn(StrEnum):
    """Direction of a movement, as SUMO's ``dir`` attribute (partial turns folded in)."""

    THROUGH = "s"
    LEFT = "l"
    RIGHT = "r"
    UTURN = "t"

    @classmethod
    def from_sumo(cls, direction: str) -> Turn:
        folded = {"s": "s", "l": "l", "L": "l", "r": "r", "R": "r", "t": "t", "T": "t"}
        try:
            return cls(folded[direction])
        except KeyError:
            raise ModelError(f"unknown turn direction {direction!r}") from None


@dataclass(frozen=True, slots=True)
class Movement:
    """Traffic from one incoming link to one outgoing link through an intersection.

    ``internal_length_m`` and ``internal_speed_m_s`` describe the path inside the junction
    (SUMO's internal lanes): the distance driven between the two stop/exit lines and its speed limit.
    ``lane_pairs`` lists which lane of ``from_link`` leads to which lane of ``to_link`` (SUMO's
    connections); empty means every lane in ``from_lanes`` reaches every lane in ``to_lanes``.
    """

    id: str
    node: str
    from_link: str
    to_link: str
    turn: Turn
    from_lanes: tuple[int, ...]
    to_lanes: tuple[int, ...]
    internal_length_m: float = 0.0
    internal_speed_m_s: float = 13.89
    lane_pairs: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "turn", Turn(self.turn))
        object.__setattr__(self, "from_lanes", tuple(self.from_lanes))
        object.__setattr__(self, "to_lanes", tuple(self.to_lanes))
        object.__setattr__(self, "lane_pairs", tuple(sorted((int(a), int(b)) for a, b in self.lane_pairs)))
        bad = [(a, b) for a, b in self.lane_pairs if a not in self.from_lanes or b not in self.to_lanes]
        if bad:
            raise ModelError(f"movement {self.id!r}: lane_pairs {bad} are not in from_lanes x to_lanes")
        if not self.from_lanes:
            raise ModelError(f"movement {self.id!r}: from_lanes must not be empty")
        if self.internal_length_m < 0:
            raise ModelError(f"movement {self.id!r}: internal_length_m (={self.internal_length_m}) must be >= 0")
        if self.internal_speed_m_s <= 0:
            raise ModelError(f"movement {self.id!r}: internal_speed_m_s (={self.internal_speed_m_s}) must be > 0")

    @property
    def internal_time_s(self) -> float:
        return self.internal_length_m / self.internal_speed_m_s

    def reachable_lanes(self, from_lane: int) -> tuple[int, ...] | None:
        """Lanes of ``to_link`` a vehicle in ``from_lane`` of ``from_link`` can enter: ``None`` when the
        movement does not say (no ``lane_pairs``, no ``to_lanes``), empty when that lane does not serve it."""
        if self.lane_pairs:
            return tuple(b for a, b in self.lane_pairs if a == from_lane)
        if not self.to_lanes:
            return None
        return self.to_lanes if from_lane in self.from_lanes else ()


@dataclass(frozen=True, slots=True)
class LaneGroup:
    """Lanes of one approach that serve the same set of movements (HCM lane group)."""

    id: str
    approach: str
    lanes: tuple[int, ...]
    movements: tuple[str, ...]
    saturation_flow_veh_h: float | None = None
    """Per-lane saturation flow; ``None`` means the HCM default for its movements."""

    @property
    def num_lanes(self) -> int:
        return len(self.lanes)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A pedestrian crossing over one leg of an intersection (see ``traffic.pedestrians``).

    ``links`` are the leg's links it crosses (the incoming and the outgoing carriageway);
    ``length_m`` is the distance walked kerb to kerb.
    """

    id: str
    links: tuple[str, ...]
    length_m: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", tuple(self.links))
        if not self.id:
            raise ModelError("crossing id must not be empty")
        if not self.links:
            raise ModelError(f"crossing {self.id!r}: crosses no link")
        if not math.isfinite(self.length_m) or self.length_m <= 0:
            raise ModelError(f"crossing {self.id!r}: length_m (={self.length_m}) must be a finite number > 0")


@dataclass(frozen=True)
class Intersection:
    """A signalised intersection.

    Attributes:
        conflicts: unordered pairs of movement ids whose paths cross or merge.
        yields: ordered pairs ``(a, b)``: when both are green, ``a`` gives way to ``b``.
        signal_links: SUMO ``linkIndex`` order: the movement id controlled by each index of a
            state string (``None`` for an index that controls nothing).
        crossings: the pedestrian crossings every plan must serve (``traffic.pedestrians``);
            scenarios derive one per leg from the geometry unless they declare their own.
        opposing_approaches: unordered pairs of approaches (incoming link ids) that face each other,
            from the geometry (``traffic.compatibility.opposing_approaches``); the others are side
            approaches. Empty means none is known to face another.
        yield_controlled: movements the agency declares yield-controlled (a slip lane with a give-way
            sign): they may be green permissively against any conflicting movement they have a rule
            to yield to (``traffic.compatibility``).
    """

    id: str
    nodes: tuple[str, ...]
    movements: Mapping[str, Movement]
    lane_groups: tuple[LaneGroup, ...]
    conflicts: frozenset[frozenset[str]] = frozenset()
    yields: frozenset[tuple[str, str]] = frozenset()
    signal_links: tuple[str | None, ...] = ()
    crossings: tuple[Crossing, ...] = ()
    opposing_approaches: frozenset[frozenset[str]] = frozenset()
    yield_controlled: frozenset[str] = frozenset()
    _approaches: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "movements", FrozenMap(dict(self.movements)))
        if not self.movements:
            raise ModelError(f"intersection {self.id!r}: has no movements")
        known = set(self.movements)
        for pair in self.conflicts:
            if len(pair) != 2 or not pair <= known:
                raise ModelError(f"intersection {self.id!r}: conflict {sorted(pair)} names unknown movements")
        for a, b in self.yields:
            if a not in known or b not in known:
                raise ModelError(f"intersection {self.id!r}: yield ({a!r}, {b!r}) names unknown movements")
        for index, mid in enumerate(self.signal_links):
            if mid is not None and mid not in known:
                raise ModelError(f"intersection {self.id!r}: signal link {index} names unknown movement {mid!r}")
        for group in self.lane_groups:
            unknown = set(group.movements) - known
            if unknown:
                raise ModelError(f"intersection {self.id!r}: lane group {group.id!r} names unknown {sorted(unknown)}")
        approaches = dict.fromkeys(m.from_link for m in self.movements.values())
        object.__setattr__(self, "_approaches", tuple(approaches))
        object.__setattr__(self, "opposing_approaches", frozenset(frozenset(p) for p in self.opposing_approaches))
        for pair in self.opposing_approaches:
            if len(pair) != 2 or not pair <= approaches.keys():
                raise ModelError(f"intersection {self.id!r}: opposing approaches {sorted(pair)} are not two of its "
                                 "approaches")
        object.__setattr__(self, "yield_controlled", frozenset(self.yield_controlled))
        unknown_yc = sorted(self.yield_controlled - known)
        if unknown_yc:
            raise ModelError(f"intersection {self.id!r}: yield_controlled names unknown movements {unknown_yc}")
        object.__setattr__(self, "crossings", tuple(self.crossings))
        legs = set(approaches) | {m.to_link for m in self.movements.values()}
        for c in self.crossings:
            if not set(c.links) & legs:
                raise ModelError(f"intersection {self.id!r}: crossing {c.id!r} crosses none of its links")
        ids = [c.id for c in self.crossings]
        if len(set(ids)) != len(ids):
            raise ModelError(f"intersection {self.id!r}: crossing ids {sorted(ids)} are not unique")

    @property
    def approaches(self) -> tuple[str, ...]:
        """Incoming link ids, in the order their movements are listed."""
        return self._approaches

    def movement(self, movement_id: str) -> Movement:
        try:
            return self.movements[movement_id]
        except KeyError:
            raise ModelError(f"intersection {self.id!r}: unknown movement {movement_id!r}") from None

    def in_conflict(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.conflicts

    def lane_group_of(self, movement_id: str) -> list[LaneGroup]:
        return [g for g in self.lane_groups if movement_id in g.movements]

    def signal_indices(self, movement_id: str) -> tuple[int, ...]:
        return tuple(i for i, mid in enumerate(self.signal_links) if mid == movement_id)


def build_lane_groups(movements: Iterable[Movement], lane_movements: Mapping[tuple[str, int], Iterable[str]]
                      ) -> tuple[LaneGroup, ...]:
    """Group the lanes of each approach that serve exactly the same movements.

    Args:
        movements: the intersection's movements (their ``from_link`` gives the approaches).
        lane_movements: ``(link_id, lane_index) -> movement ids`` served by that lane.
    """
    groups: list[LaneGroup] = []
    approaches = dict.fromkeys(m.from_link for m in movements)
    for approach in approaches:
        by_set: dict[tuple[str, ...], list[int]] = {}
        lanes = sorted(idx for (link, idx) in lane_movements if link == approach)
        for idx in lanes:
            served = tuple(sorted(lane_movements[(approach, idx)]))
            if served:
                by_set.setdefault(served, []).append(idx)
        for served, idxs in by_set.items():
            lane_part = "".join(str(i) for i in idxs)
            groups.append(LaneGroup(id=f"{approach}#{lane_part}", approach=approach,
                                    lanes=tuple(idxs), movements=served))
    return tuple(groups)
