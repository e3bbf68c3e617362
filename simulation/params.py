"""Behaviour parameters of the simulator, calibrated against SUMO 1.28 micro (see
``benchmarks/sim_fidelity.py``: saturation flow, lost time and free-flow time loss on the
reference isolated intersection)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from traffic.checks import require
from traffic.errors import ModelError


@dataclass(frozen=True, slots=True)
class SimParams:
    """Driver and vehicle behaviour. Times in seconds, speeds in m/s, accelerations in m/s^2.

    Attributes:
        headway_through_s, headway_right_s, headway_left_s: saturation headway at the stop line by
            the movement of the departing vehicle (SUMO micro: 2.09 s on a through lane with 15 %
            rights, 2.16 s on a protected-left lane).
        headway_sd_s: driver-to-driver spread of the headway (cycle-to-cycle capacity varies in
            SUMO too: sd 0.7 to 0.9 vehicles per cycle).
        startup_s: from green onset until the first queued vehicle crosses the stop line.
        yellow_go_s: part of the yellow still used by vehicles too close to stop.
        dawdle: free-flow speed as a share of the desired speed (Krauss dawdling with sigma 0.5 and
            accel 2.6 m/s^2 slows a car by about 0.33 m/s, 2.3 % at 50 km/h).
        depart_loss_s: time lost once per trip at insertion (SUMO micro's free-flow time loss on the
            reference through route is 2.75 s, of which dawdling explains about 1 s; the rest does not
            shift arrival times along the route, so it is not spread over the links).
        accel_m_s2, turn_decel_m_s2: acceleration after a stop or turn, deceleration before a turn.
        min_gap_s: minimum time between two vehicles reaching the stop line in one lane (no overtaking
            within a lane).
        critical_gap_s, follow_up_s: gap acceptance of permissive (yielding) movements: the smallest
            gap in the priority stream a driver accepts, and the clearance after a priority vehicle.
        junction_storage_veh: yielding turners that can wait inside the junction without blocking
            their lane (SUMO's internal junction waiting position).
        lane_change_s: a vehicle queues in a lane it can reach from the lane it entered the link on
            (the movement's lane-to-lane connections) with one lane change per this time of driving
            at the speed limit plus two jam spacings of link (SUMO LC2013's strategic look-ahead:
            10 s, 154 m at 50 km/h); 0 lets it pick any lane serving its movement.
        stop_threshold_s: a delay at a stop line above this counts as a stop.
        stop_go_loss_s: time lost decelerating to a stop and accelerating again, not spent waiting.
        teleport_s: a vehicle blocked this long at a stop line jumps to its next link (SUMO's
            time-to-teleport, 300 s); 0 disables.
        max_extra_s: how long after the end of the demand the run may go on for the network to empty.
        dynamic_routing: route origin-destination trips and flows when they enter the network, on
            current travel times (SUMO's rerouting device, which SUMO gives every trip and flow defined
            by ``from``/``to``); False keeps the scenario's static fastest free-flow route.
        routing_sample_s, routing_window_s: how often link speeds are sampled for dynamic routing and
            over how long they are averaged (SUMO: every 1 s, over the last 180 samples).
        routing_minor_penalty_s: routing cost of giving way at an unsignalised junction (SUMO's
            ``--weights.minor-penalty``).
        routing_pre_period_s: a vehicle waiting to enter the network is routed again this often
            (SUMO's ``--device.rerouting.pre-period``).
        width_budget: mixed traffic by vehicle size (``simulation.mixed_queue``): a vehicle takes room in
            its lane and time at its stop line by its jam spacing and by how many of its kind fit abreast in
            the lane's width (motorbikes queue and discharge several abreast); a SUMO passenger car takes
            one 7.5-m slot and the movement's headway either way. False: every vehicle as a car.
        discharge_reaction_s: the part of a saturation headway that does not depend on the vehicle's
            length and acceleration (the rest is the time to move up one jam spacing; at most 90 % of the
            through headway is taken as reaction).
        filtering: narrow vehicles that arrive while the queue stands at red pass the standing wider
            ones beside them when the lane leaves room, and leave first at green.
    """

    headway_through_s: float = 2.05
    headway_right_s: float = 2.35
    headway_left_s: float = 2.16
    headway_sd_s: float = 0.35
    startup_s: float = 1.5
    yellow_go_s: float = 0.0
    dawdle: float = 0.977
    depart_loss_s: float = 1.75
    accel_m_s2: float = 2.6
    turn_decel_m_s2: float = 4.5
    min_gap_s: float = 1.2
    critical_gap_s: float = 4.5
    follow_up_s: float = 2.5
    junction_storage_veh: int = 1
    lane_change_s: float = 10.0
    stop_threshold_s: float = 3.0
    stop_go_loss_s: float = 4.2
    teleport_s: float = 300.0
    max_extra_s: float = 7200.0
    dynamic_routing: bool = False
    routing_sample_s: float = 5.0
    routing_window_s: float = 180.0
    routing_minor_penalty_s: float = 1.5
    routing_pre_period_s: float = 60.0
    width_budget: bool = True
    discharge_reaction_s: float = 1.0
    filtering: bool = True

    def __post_init__(self) -> None:
        flags = ("dynamic_routing", "width_budget", "filtering")
        require(self, [f.name for f in fields(self) if f.name not in flags], what="simulation parameter")
        require(self, ("headway_through_s", "headway_right_s", "headway_left_s", "accel_m_s2", "turn_decel_m_s2",
                       "routing_sample_s", "routing_window_s"), strict=True, what="simulation parameter")
        if not 0 < self.dawdle <= 1:
            raise ModelError(f"dawdle (={self.dawdle}) must be in (0, 1]")


DEFAULT_PARAMS = SimParams()
