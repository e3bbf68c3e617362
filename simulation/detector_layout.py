"""Where Greenwave's detectors (standing in for cameras) look, and what a stage controller sees from them.

``detector_layout`` places, for every signal, detectors over the last ``range_m`` upstream of each
approach's stop line and the first ``range_m`` of each exit lane. A camera sees a stretch of road,
not a SUMO edge: where an approach edge is shorter than the range, coverage continues on the edges
feeding it through unsignalised nodes. ``observations`` turns the detectors' readings (from SUMO's
lane-area detectors or from Greenwave's simulator) into ``StageObservation``s: a lane serving
several movements shares its vehicles equally among them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from traffic.control import StageObservation
from traffic.errors import ModelError
from traffic.network import JAM_SPACING_M
from traffic.scenario import Scenario
from traffic.stages import StageSignal


@dataclass(frozen=True, slots=True)
class LaneDetector:
    id: str
    lane: str
    """SUMO lane id (``edge_index``)."""
    start_m: float
    length_m: float


@dataclass(frozen=True)
class DetectorLayout:
    """Detectors per signal: approach detectors with the movements their vehicles count for, exit lanes per link."""

    approach: Mapping[str, tuple[tuple[LaneDetector, tuple[tuple[str, float], ...]], ...]]
    """Signal -> (detector, ((movement, share of the detector's vehicles), ...)) rows."""
    exits: Mapping[str, tuple[LaneDetector, ...]]
    """Exit link id -> its lanes' detectors."""
    jam_spacing_m: float = JAM_SPACING_M

    @cached_property
    def storage_veh(self) -> dict[str, dict[str, float]]:
        """Signal -> movement -> vehicles its share of the approach detectors holds when jammed."""
        out: dict[str, dict[str, float]] = {}
        for iid, rows in self.approach.items():
            per = out.setdefault(iid, {})
            for det, shares in rows:
                for m, share in shares:
                    per[m] = per.get(m, 0.0) + share * det.length_m / self.jam_spacing_m
        return out

    @cached_property
    def exit_storage_veh_per_lane(self) -> dict[str, dict[str, float]]:
        """Signal -> movement -> vehicles per lane the exit link's detectors hold when jammed."""
        per_link = {link: sum(d.length_m for d in dets) / len(dets) / self.jam_spacing_m
                    for link, dets in self.exits.items()}
        return {iid: {m: per_link[self._exit_of[iid][m]] for m in self._exit_of[iid]} for iid in self.approach}

    _exit_of: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def all(self) -> list[LaneDetector]:
        seen: dict[str, LaneDetector] = {}
        for rows in self.approach.values():
            for det, _ in rows:
                seen[det.id] = det
        for dets in self.exits.values():
            for det in dets:
                seen[det.id] = det
        return list(seen.values())


def detector_layout(scenario: Scenario, intersections: Sequence[str], range_m: float = 100.0,
                    name: str = "gw") -> DetectorLayout:
    """Lane-area detectors covering ``range_m`` upstream of each approach's stop line and downstream of each exit.

    Detector ids start with ``name`` (a second layout over another range needs another name).

    A camera sees a stretch of road, not a SUMO edge: where an approach edge is shorter than the
    range, the coverage continues on the edges feeding it through unsignalised nodes (edge splits,
    merges), their vehicles shared among the approach's movements like its own lanes'.
    """
    if range_m <= 0:
        raise ModelError(f"detector range (={range_m}) must be > 0")
    net = scenario.network
    signal_nodes = {n for inter in scenario.intersections.values() for n in inter.nodes}
    feeders: dict[str, list[str]] = {}
    for m in net.movements.values():
        if m.node not in signal_nodes:
            feeders.setdefault(m.to_link, []).append(m.from_link)
    approach: dict[str, tuple] = {}
    exits: dict[str, tuple[LaneDetector, ...]] = {}
    for iid in intersections:
        inter = scenario.intersections[iid]
        rows: list = []
        for link_id in inter.approaches:
            link = net.links[link_id]
            lane_shares = []
            for lane in link.lanes:
                served = [m for m in lane.movements if m in inter.movements]
                if served:
                    lane_shares.append((lane, tuple((m, 1.0 / len(served)) for m in served)))
            for lane, shares in lane_shares:
                length = min(range_m, lane.length_m)
                rows.append((LaneDetector(f"{name}_in_{link_id}_{lane.index}", f"{link_id}_{lane.index}",
                                          lane.length_m - length, length), shares))
            if lane_shares:
                link_shares: dict[str, float] = {}
                for _, shares in lane_shares:
                    for mid, share in shares:
                        link_shares[mid] = link_shares.get(mid, 0.0) + share / len(lane_shares)
                rows += _upstream(net, feeders, link_id, range_m - link.length_m, tuple(link_shares.items()), set(),
                                  name)
        approach[iid] = tuple(rows)
        for m in inter.movements.values():
            if m.to_link not in exits:
                exits[m.to_link] = tuple(
                    LaneDetector(f"{name}_out_{m.to_link}_{lane.index}", f"{m.to_link}_{lane.index}", 0.0,
                                 min(range_m, lane.length_m))
                    for lane in net.links[m.to_link].lanes)
    exit_of = {iid: {m: mv.to_link for m, mv in scenario.intersections[iid].movements.items()} for iid in intersections}
    return DetectorLayout(approach, exits, _exit_of=exit_of)


def advance_layout(scenario: Scenario, intersections: Sequence[str], controller: object) -> DetectorLayout | None:
    """The advance detectors a stage controller asks for (its ``advance_range_m``, when it has one
    that is not None: ``StageObservation.approaching_veh``), else None; approach detectors only
    (nothing reads exits over that range)."""
    range_m = getattr(controller, "advance_range_m", None)
    if range_m is None:
        return None
    return replace(detector_layout(scenario, intersections, range_m, "gw_adv"), exits={})


def _upstream(net, feeders: Mapping[str, list[str]], link_id: str, left_m: float,
              shares: tuple[tuple[str, float], ...], seen: set[str], name: str) -> list:
    rows: list = []
    if left_m <= 1.0:
        return rows
    for up in feeders.get(link_id, ()):
        if up in seen:
            continue
        seen.add(up)
        link = net.links[up]
        for lane in link.lanes:
            length = min(left_m, lane.length_m)
            det = LaneDetector(f"{name}_up_{up}_{lane.index}", f"{up}_{lane.index}", lane.length_m - length, length)
            rows.append((det, tuple((m, s / len(link.lanes)) for m, s in shares)))
        rows += _upstream(net, feeders, up, left_m - link.length_m, shares, seen, name)
    return rows


def observations(layout: DetectorLayout, scenario: Scenario, heads: Mapping[str, StageSignal], now_s: float,
                 read: Callable[[LaneDetector], tuple[float, float]],
                 advance: DetectorLayout | None = None) -> dict[str, StageObservation]:
    """Every signal's observation; ``read(detector)`` gives its (halting, all) vehicles now; with an
    ``advance`` layout (over a longer stretch), its approach detectors' vehicles fill ``approaching_veh``."""
    exit_per_lane: dict[str, float] = {}
    for link, dets in layout.exits.items():
        exit_per_lane[link] = sum(read(d)[1] for d in dets) / len(dets)
    out = {}
    for iid, head in heads.items():
        inter = scenario.intersections[iid]
        queue = dict.fromkeys(inter.movements, 0.0)
        moving = dict.fromkeys(inter.movements, 0.0)
        for det, shares in layout.approach[iid]:
            halting, total = read(det)
            for m, share in shares:
                queue[m] += halting * share
                moving[m] += (total - halting) * share
        exits = {m: exit_per_lane[mv.to_link] for m, mv in inter.movements.items()}
        approaching: dict[str, float] = {}
        if advance is not None:
            approaching = dict.fromkeys(inter.movements, 0.0)
            for det, shares in advance.approach[iid]:
                total = read(det)[1]
                for m, share in shares:
                    approaching[m] += total * share
        out[iid] = StageObservation(iid, head.target if head.target is not None else head.stage,
                                    head.green_s(now_s), head.can_switch(now_s), queue, moving, exits,
                                    layout.storage_veh[iid], layout.exit_storage_veh_per_lane[iid], approaching)
    return out
