"""Run-time state of the network: links, movements, vehicles (plain objects with ``__slots__``).

Vehicles are records, not processes: a vehicle costs one event per stop line it crosses (its
lane's server process decides when), so a run with 10,000 vehicles in the network has a few
thousand long-lived processes, not 10,000.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulation.junction_rules import JunctionRule
    from simulation.lanes import JunctionSlot, LaneServer
    from simulation.signals import SignalTimer
    from simulation.stage_control import StageTimer


class LinkState:
    """A link; storage lives in its lanes (``LaneServer.capacity``). ``occupancy`` counts only the
    vehicles driving their route's last link, which has no stop line for them."""

    __slots__ = ("id", "index", "lanes", "length_m", "occupancy", "speed_m_s")

    def __init__(self, index: int, link_id: str, length_m: float, speed_m_s: float) -> None:
        self.index = index
        self.id = link_id
        self.length_m = length_m
        self.speed_m_s = speed_m_s
        self.occupancy = 0
        self.lanes: list[LaneServer] = []


class MoveState:
    """A movement as the simulator uses it."""

    __slots__ = (
        "fast_a",
        "fast_b",
        "fast_vmax",
        "from_link",
        "headway_s",
        "id",
        "ideal_a",
        "internal_length_m",
        "internal_speed_m_s",
        "lane_group",
        "lane_stats",
        "lanes",
        "priority",
        "rule",
        "slot",
        "timer",
        "to_link",
        "turn",
    )

    def __init__(self, move_id: str, from_link: LinkState, to_link: LinkState, turn: str, headway_s: float,
                 internal_length_m: float, internal_speed_m_s: float,
                 timer: SignalTimer | StageTimer | None) -> None:
        self.id = move_id
        self.from_link = from_link
        self.to_link = to_link
        self.turn = turn
        self.headway_s = headway_s
        self.internal_length_m = internal_length_m
        self.internal_speed_m_s = internal_speed_m_s
        self.timer = timer
        self.lanes: list[LaneServer] = []
        self.priority: list[MoveState] = []  # movements this one yields to
        self.slot: JunctionSlot | None = None
        self.rule: JunctionRule | None = None  # zipper, all-way stop, rail crossing: simulation.junction_rules
        self.lane_group: dict[int, str] = {}  # lane index -> lane group id
        self.lane_stats: dict[int, list[float]] = {}  # lane index -> its lane group's accumulators
        # free-flow time through the junction is fast_a / sf + fast_b * sf for a vehicle with speed
        # factor sf whose own top speed (>= fast_vmax) does not bind
        self.fast_a = 0.0
        self.fast_b = 0.0
        self.fast_vmax = 0.0
        self.ideal_a = 0.0  # internal length / internal speed limit: ideal time through at sf = 1


class Vehicle:
    __slots__ = ("depart_s", "depart_sched_s", "flow", "group", "headway_dev_s", "ideal_s", "int_ff_s", "kind",
                 "leg", "max_speed_m_s", "moves", "pcu", "queue_pos", "route", "seg_entry_s", "seg_ff_s", "sf",
                 "stop_arrival_s", "stops", "vclass", "vid", "wait_s")

    def __init__(self, vid: int, flow: int, route: int, moves: tuple[MoveState, ...], sf: float,
                 max_speed_m_s: float, vclass: str, pcu: float, depart_sched_s: float) -> None:
        self.vid = vid
        self.kind = 0  # index of its vehicle type in the scenario (per-lane tables: simulation.lanes.KindTables)
        self.flow = flow
        self.route = route
        self.moves = moves
        self.sf = sf
        self.max_speed_m_s = max_speed_m_s
        self.vclass = vclass
        self.pcu = pcu
        self.depart_sched_s = depart_sched_s
        self.depart_s = math.nan
        self.leg = 0
        self.ideal_s = 0.0
        self.wait_s = 0.0
        self.stops = 0
        self.stop_arrival_s = 0.0
        self.seg_entry_s = 0.0
        self.seg_ff_s = 0.0
        self.queue_pos = 0  # < 0 after a stop: -1 - (position in the discharging queue)
        self.headway_dev_s = 0.0  # this driver's deviation from the saturation headway
        self.int_ff_s = 0.0  # free-flow time through the next junction
        self.group: list[float] | None = None  # accumulators of the lane group whose stop line it last crossed


class VehicleLog:
    """Finished trips as parallel lists (turned into numpy arrays at the end of the run)."""

    __slots__ = (
        "arrival_s",
        "depart_delay_s",
        "flow",
        "route",
        "stops",
        "time_loss_s",
        "travel_time_s",
        "waiting_s",
    )

    def __init__(self) -> None:
        self.flow: list[int] = []
        self.route: list[int] = []
        self.arrival_s: list[float] = []
        self.travel_time_s: list[float] = []
        self.time_loss_s: list[float] = []
        self.waiting_s: list[float] = []
        self.stops: list[int] = []
        self.depart_delay_s: list[float] = []
