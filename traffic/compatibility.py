"""The compatibility rule: which conflicting movements may be green at the same time, and who yields.

Two movements conflict when their paths cross or merge (``Intersection.conflicts``, SUMO's foes).
Green together, they are safe only when one of them can resolve the conflict by yielding at a gap:

- both protected (``G``): never;
- one permissive (``g``): only when the permissive movement
  - is a turn (left, U-turn or right) and the other comes from the **opposing** approach: the classic
    permissive left against the opposing through and right (or, driving on the left, the right turn
    across the opposing through), and the short turn merging with the opposing long turn; or
  - is declared yield-controlled by the agency (``Intersection.yield_controlled``: a slip lane with a
    give-way sign, a right turn on red after a stop);
- anything else is refused, permissive or not: crossing through streams, a through stream against a
  turn that crosses or merges into it from a side approach (including a side street's right turn
  merging into the main road's through stream), and two movements of the same approach whose paths
  cross;
- where the intersection has right-of-way rules (SUMO nets: the ``response`` bits), the permissive
  movement must also have its rule to yield to the other one, so the simulator knows who gives way.

Approaches are related by geometry: the heading of each incoming link as it reaches the junction
(from its upstream node to its downstream node, or from the lane shape at the stop line for SUMO
nets). Two approaches whose headings differ by more than ``OPPOSING_MIN_ANGLE_DEG`` face each other
(opposing); others are side approaches. Where coordinates say nothing (coincident nodes), topology
decides: two approaches are opposing when one's through movement leads back to the other's origin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from traffic.intersection import Intersection, Movement, Turn
from traffic.network import Network

OPPOSING_MIN_ANGLE_DEG = 135.0
"""Approaches whose headings differ by more than this face each other (a straight road bends a little)."""

_TURN_WORDS = {Turn.THROUGH: "through", Turn.LEFT: "left turn", Turn.RIGHT: "right turn", Turn.UTURN: "U-turn"}


class Relation(StrEnum):
    """Where one approach lies seen from another."""

    SAME = "same"
    OPPOSING = "opposing"
    SIDE = "side"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether two movements may be green together.

    ``yielding`` names the movement that gives way (``None`` when they do not conflict or are refused);
    ``reason`` says why, in words fit for an error message.
    """

    allowed: bool
    yielding: str | None
    reason: str


def link_heading_deg(network: Network, link_id: str) -> float | None:
    """Direction of travel on a link (degrees, counter-clockwise from +x), from its end nodes;
    ``None`` when both nodes lie at the same point."""
    link = network.links[link_id]
    a, b = network.nodes[link.from_node], network.nodes[link.to_node]
    dx, dy = b.x_m - a.x_m, b.y_m - a.y_m
    if math.hypot(dx, dy) < 1e-6:
        return None
    return math.degrees(math.atan2(dy, dx))


def heading_difference_deg(a_deg: float, b_deg: float) -> float:
    """Angle between two headings, 0 to 180 degrees."""
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


def opposing_approaches(network: Network, movements: Iterable[Movement],
                        headings_deg: Mapping[str, float] | None = None) -> frozenset[frozenset[str]]:
    """Pairs of approaches (incoming link ids) of one intersection that face each other.

    ``headings_deg`` overrides the node-to-node heading of any approach (e.g. from a SUMO lane shape).
    """
    moves = list(movements)
    approaches = list(dict.fromkeys(m.from_link for m in moves))
    given = dict(headings_deg or {})
    heading = {a: given[a] if a in given else link_heading_deg(network, a) for a in approaches}
    through_to: dict[str, set[str]] = {a: set() for a in approaches}  # approach -> nodes its through leads to
    for m in moves:
        if m.turn is Turn.THROUGH and m.to_link in network.links:
            through_to[m.from_link].add(network.links[m.to_link].to_node)
    pairs: set[frozenset[str]] = set()
    for i, a in enumerate(approaches):
        for b in approaches[i + 1:]:
            ha, hb = heading[a], heading[b]
            if ha is not None and hb is not None:
                opposing = heading_difference_deg(ha, hb) > OPPOSING_MIN_ANGLE_DEG
            else:  # no geometry: a through movement that leads back where the other approach comes from
                origin_a, origin_b = network.links[a].from_node, network.links[b].from_node
                opposing = origin_b in through_to[a] or origin_a in through_to[b]
            if opposing:
                pairs.add(frozenset((a, b)))
    return frozenset(pairs)


def relation(intersection: Intersection, a: str, b: str) -> Relation:
    """Where movement ``b``'s approach lies seen from movement ``a``'s."""
    la, lb = intersection.movement(a).from_link, intersection.movement(b).from_link
    if la == lb:
        return Relation.SAME
    return Relation.OPPOSING if frozenset((la, lb)) in intersection.opposing_approaches else Relation.SIDE


def describe(intersection: Intersection, movement_id: str) -> str:
    """``'N_C>C_S' (through)``: a movement and what it does."""
    return f"{movement_id!r} ({_TURN_WORDS[intersection.movement(movement_id).turn]})"


def green_together(intersection: Intersection, a: str, b: str, *, a_permissive: bool,
                   b_permissive: bool) -> Verdict:
    """May movements ``a`` and ``b`` be green at the same time, ``a_permissive``/``b_permissive`` saying
    which show a permissive green (``g``) rather than a protected one (``G``)?"""
    if not intersection.in_conflict(a, b):
        return Verdict(True, None, "their paths neither cross nor merge")
    if not (a_permissive or b_permissive):
        return Verdict(False, None, "conflicting movements, both protected green")
    refusals: list[str] = []
    for p, o, permissive in ((a, b, a_permissive), (b, a, b_permissive)):
        if not permissive:
            continue
        allowed, why = _may_yield(intersection, p, o)
        if allowed:
            return Verdict(True, p, why)
        refusals.append(why)
    return Verdict(False, None, "; ".join(refusals))


def _may_yield(intersection: Intersection, p: str, o: str) -> tuple[bool, str]:
    """Whether permissive ``p`` can safely give way to ``o``, and why (not)."""
    where = relation(intersection, p, o)
    turn = intersection.movement(p).turn
    if p in intersection.yield_controlled:
        why = f"{p!r} is yield-controlled and gives way to {o!r}"
    elif turn is not Turn.THROUGH and where is Relation.OPPOSING:
        why = f"{describe(intersection, p)} gives way to {o!r} from the opposing approach"
    elif turn is Turn.THROUGH:
        return False, (f"{describe(intersection, p)} is permissive against {describe(intersection, o)} from "
                       f"{_where_words(where)}, but a through movement never yields at a gap "
                       "(only a turn yielding to the opposing approach, or a yield-controlled movement, may)")
    else:
        return False, (f"{describe(intersection, p)} is permissive against {describe(intersection, o)} from "
                       f"{_where_words(where)}; a turn may yield only to traffic from the opposing approach "
                       "(or be declared yield-controlled)")
    if intersection.yields and (p, o) not in intersection.yields:
        return False, f"{describe(intersection, p)} has no rule to yield to {o!r} (the net's right of way)"
    return True, why


def _where_words(where: Relation) -> str:
    return {Relation.SAME: "its own approach", Relation.OPPOSING: "the opposing approach",
            Relation.SIDE: "a side approach"}[where]
