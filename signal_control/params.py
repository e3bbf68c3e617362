"""Solver parameters as frozen dataclasses (units in the names).

Defaults follow the HCM (base saturation flow 1,900 pc/h/lane, 2-s start-up lost time, 2 s of the
yellow used as green); :data:`SUMO_MICRO` holds the values measured in SUMO micro on the reference
scenarios (1,721 veh/h through, 1,666 veh/h protected left, about 3.4 s lost per phase before the
all-red), for plans meant to run there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from signal_control.errors import OptimizerError
from traffic.pedestrians import HCM_PEDESTRIANS, PedestrianRules


def _positive(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not value > 0:
            raise OptimizerError(f"{name} (={value}) must be > 0")


@dataclass(frozen=True, slots=True)
class SaturationFlows:
    """Per-lane saturation flows (PCU/h) by movement type; lane groups may override them.

    Turning movements in a shared lane count as ``*_pce`` through-car equivalents (HCM's turn
    adjustment factors written as equivalents: right 1/0.85, protected left 1/0.95). A permissive
    left's equivalent grows with the opposing through flow (HCM 2000 Exhibit C16-3), given as
    ``(opposing veh/h, equivalent)`` points.
    """

    through_pcu_h: float = 1900.0
    left_protected_pcu_h: float = 1805.0
    right_pce: float = 1.18
    left_protected_pce: float = 1.05
    left_permissive_pce: tuple[tuple[float, float], ...] = (
        (0.0, 1.4), (200.0, 1.7), (400.0, 2.1), (600.0, 2.5), (800.0, 3.1), (1000.0, 3.7), (1200.0, 4.5))

    def __post_init__(self) -> None:
        _positive(self, "through_pcu_h", "left_protected_pcu_h", "right_pce", "left_protected_pce")


@dataclass(frozen=True, slots=True)
class TimingParams:
    """How displayed times become effective green (HCM): g = G - startup_lost_s + yellow_used_s."""

    startup_lost_s: float = 2.0
    yellow_used_s: float = 2.0

    def lost_time_s(self, yellow_s: float, all_red_s: float) -> float:
        """Lost time of one phase: start-up loss, the unused yellow and the all-red."""
        return self.startup_lost_s + max(0.0, yellow_s - self.yellow_used_s) + all_red_s


@dataclass(frozen=True, slots=True)
class WebsterParams:
    """Cycle and split rules (Webster 1958, HCM).

    With ``refine_splits`` the greens proportional to the critical y are then moved a second at a
    time between phases while the predicted HCM control delay falls: equal degrees of saturation
    are not delay-optimal when lane groups' capacities differ a lot (a protected left next to a
    through movement), where the random-delay term weighs on the smaller one.

    ``pedestrians``: a phase in which a crossing may walk gets at least its walk + clearance
    (``traffic.pedestrians.phase_min_greens_s``), and the cycle grows to fit; ``None`` leaves the
    pedestrians out (the plans then fail the default safety rules wherever a crossing needs more).
    """

    min_cycle_s: float = 30.0
    max_cycle_s: float = 120.0
    min_green_s: float = 5.0
    oversaturation_y: float = 0.9
    refine_splits: bool = True
    saturation: SaturationFlows = field(default_factory=SaturationFlows)
    timing: TimingParams = field(default_factory=TimingParams)
    pedestrians: PedestrianRules | None = HCM_PEDESTRIANS
    above_capacity: bool = False
    """Demand above capacity (Y >= 1): False refuses it (``InfeasibleDemandError``: no fixed-time plan
    can serve it); True gives the maximum-throughput plan: the longest cycle (the least lost time per
    hour), greens in proportion to the critical flow ratios (equal degrees of saturation: every queue
    grows at the same relative rate, none starves), with a warning."""

    def __post_init__(self) -> None:
        _positive(self, "min_cycle_s", "max_cycle_s", "oversaturation_y")
        if self.max_cycle_s < self.min_cycle_s:
            raise OptimizerError(f"max_cycle_s (={self.max_cycle_s}) must be >= min_cycle_s (={self.min_cycle_s})")
        if self.min_green_s < 0:
            raise OptimizerError(f"min_green_s (={self.min_green_s}) must be >= 0")


@dataclass(frozen=True, slots=True)
class BandwidthParams:
    """Two-way bandwidth (MAXBAND-style) settings.

    ``speed_factor`` scales each link's speed limit to the design (progression) speed; 0.85 fits
    SUMO's Krauss drivers (dawdling, acceleration from stops) on the reference arterial.
    ``min_band_ratio`` keeps each direction's band at least that fraction of the other's (MAXBAND's
    target ratio; 0 lets a one-way wave win), so a green wave never abandons one direction.
    """

    weight_outbound: float = 1.0
    weight_inbound: float = 1.0
    speed_factor: float = 0.85
    min_band_ratio: float = 0.5

    def __post_init__(self) -> None:
        _positive(self, "speed_factor")
        if not 0 <= self.min_band_ratio <= 1:
            raise OptimizerError(f"min_band_ratio (={self.min_band_ratio}) must be in [0, 1]")
        if self.weight_outbound < 0 or self.weight_inbound < 0 or self.weight_outbound + self.weight_inbound <= 0:
            raise OptimizerError(f"direction weights ({self.weight_outbound}, {self.weight_inbound}) must be >= 0 "
                                 "and not both 0")


@dataclass(frozen=True, slots=True)
class DelayParams:
    """TRANSYT-style performance index and its search.

    PI = delay (veh-s per s) + ``stop_penalty_s`` x stops (per s): a stop costs as much as that
    many seconds of delay (deceleration and acceleration time loss; about 4 to 6 s in SUMO at
    50 km/h). Platoon dispersion follows Robertson
    (F = 1 / (1 + alpha * beta * T)); ``sweeps`` passes over the network propagate cyclic flow
    profiles; the search is coordinate hill-climbing over offsets and splits with ``restarts``
    random restarts; at most ``max_passes`` passes per climb (``screening_passes`` when a climb
    only ranks candidate cycles).
    """

    stop_penalty_s: float = 5.0
    dispersion_alpha: float = 0.35
    dispersion_beta: float = 0.8
    speed_factor: float = 0.85
    sweeps: int = 4
    restarts: int = 2
    max_passes: int = 20
    screening_passes: int = 3
    optimise_splits: bool = True
    seed: int = 1

    def __post_init__(self) -> None:
        _positive(self, "speed_factor", "sweeps")
        if self.stop_penalty_s < 0 or self.restarts < 0:
            raise OptimizerError("stop_penalty_s and restarts must be >= 0")


HCM = WebsterParams()
DEFAULT_BANDWIDTH = BandwidthParams()
DEFAULT_DELAY = DelayParams()
SUMO_MICRO = WebsterParams(
    saturation=SaturationFlows(through_pcu_h=1721.0, left_protected_pcu_h=1666.0, right_pce=1.0,
                               left_protected_pce=1.0),
    timing=TimingParams(startup_lost_s=2.0, yellow_used_s=1.6))
"""Saturation flows and lost time measured in SUMO micro (REPORT §5): right turns in the shared
lane were part of the measured 1,721 veh/h, so their equivalent is 1."""
