"""Arrays for the TRANSYT-style delay kernels: one stream per movement with demand.

A stream's arrivals are the departures of the upstream signalised movements that feed its link
(each scaled by the stream's share of the link's outgoing flow, delayed by the link's travel time
and dispersed after Robertson) plus a uniform part for traffic that enters the link elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from signal_control import delay_kernels
from signal_control.lane_groups import LaneGroupLoad, lane_group_loads, movement_lane_shares
from signal_control.movement_demand import MovementFlow
from signal_control.params import DelayParams, WebsterParams
from signal_control.webster import PhaseRatios, phase_ratios
from traffic.pedestrians import phase_min_greens_s
from traffic.scenario import Scenario
from traffic.signal_plan import Phase, SignalPlan

_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]


@dataclass
class NetworkArrays:
    """Everything :func:`delay_kernels.network_pi` and :func:`delay_kernels.climb` need (CSR layouts).

    Signals are in ``signals`` order; phases of signal s are ``ph_ptr[s]:ph_ptr[s+1]`` of
    ``greens``/``inters``/``min_greens``; ``streams`` names each stream's movement.
    """

    signals: tuple[str, ...]
    streams: tuple[str, ...]
    cycle: float
    steps: int
    offsets: NDArray[np.float64]
    greens: NDArray[np.float64]
    min_greens: NDArray[np.float64]
    inters: NDArray[np.float64]
    ph_ptr: NDArray[np.int64]
    st_sig: NDArray[np.int64]
    st_mask: NDArray[np.int64]
    sat: NDArray[np.float64]
    ext: NDArray[np.float64]
    flow: NDArray[np.float64]
    fd_ptr: NDArray[np.int64]
    fd_src: NDArray[np.int64]
    fd_frac: NDArray[np.float64]
    fd_shift: NDArray[np.int64]
    fd_disp: NDArray[np.float64]
    aff_ptr: NDArray[np.int64]
    aff_idx: NDArray[np.int64]
    lost_start: float
    yellow_used: float
    stop_penalty_s: float

    def kernel_args(self) -> tuple[_F64, _I64, _I64, _I64, _F64, _F64, _F64, _I64, _I64, _F64, _I64, _F64]:
        return (self.inters, self.ph_ptr, self.st_sig, self.st_mask, self.sat, self.ext, self.flow,
                self.fd_ptr, self.fd_src, self.fd_frac, self.fd_shift, self.fd_disp)

    def pi(self, offsets: NDArray[np.float64] | None = None, greens: NDArray[np.float64] | None = None,
           sweeps: int = 4) -> float:
        """Network performance index (veh-s/s) of these (or the given) offsets and greens."""
        out = np.zeros((len(self.streams), self.steps))
        pi_st = np.zeros(len(self.streams))
        return float(delay_kernels.network_pi(
            self.offsets if offsets is None else offsets, self.greens if greens is None else greens,
            *self.kernel_args(), self.cycle, self.steps, self.lost_start, self.yellow_used,
            self.stop_penalty_s, sweeps, False, out, pi_st))

    def as_lists(self) -> dict:
        """Plain-list copy for the pure-Python twin."""
        keys = ("ph_ptr", "inters", "st_sig", "st_mask", "sat", "ext", "flow", "fd_ptr", "fd_src", "fd_frac",
                "fd_shift", "fd_disp")
        d: dict = {k: getattr(self, k).tolist() for k in keys}
        d.update(cycle=self.cycle, steps=self.steps, lost_start=self.lost_start, yellow_used=self.yellow_used,
                 stop_penalty_s=self.stop_penalty_s)
        return d


class PlanInputs:
    """What the kernel arrays and Webster plans need of each intersection that a plan's greens and
    cycle do not change, computed once for one scenario, demand and parameter set (one optimisation
    tries many cycles): lane shares, lane-group loads per phasing, phase ratios and pedestrian
    minimum greens per phase sequence. Bound to those very inputs: never reuse it for others."""

    def __init__(self, scenario: Scenario, demand: Mapping[str, MovementFlow], webster: WebsterParams) -> None:
        self.scenario, self.demand, self.webster = scenario, demand, webster
        self._shares: dict[str, dict[tuple[str, str], float]] = {}
        self._loads: dict[tuple[str, tuple], list[LaneGroupLoad]] = {}
        self._ratios: dict[tuple[str, tuple[Phase, ...]], PhaseRatios] = {}
        self._mins: dict[tuple[str, tuple[Phase, ...]], list[float]] = {}

    def serves(self, scenario: Scenario, demand: Mapping[str, MovementFlow], webster: WebsterParams) -> bool:
        return self.scenario is scenario and self.demand is demand and self.webster is webster

    def shares(self, iid: str) -> dict[tuple[str, str], float]:
        """``movement_lane_shares`` of intersection ``iid``."""
        if iid not in self._shares:
            self._shares[iid] = movement_lane_shares(self.scenario.network, self.scenario.intersections[iid])
        return self._shares[iid]

    def loads(self, iid: str, plan: SignalPlan) -> list[LaneGroupLoad]:
        """``lane_group_loads`` of ``plan`` at ``iid``: they depend on which movements each phase
        serves (protected or permissive), not on the greens."""
        key = (iid, tuple((p.protected, p.permissive) for p in plan.phases))
        if key not in self._loads:
            self._loads[key] = lane_group_loads(self.scenario.network, self.scenario.intersections[iid], plan,
                                                self.demand, self.webster.saturation)
        return self._loads[key]

    def ratios(self, iid: str, plan: SignalPlan) -> PhaseRatios:
        """``phase_ratios`` of ``plan`` at ``iid``."""
        key = (iid, plan.phases)
        if key not in self._ratios:
            self._ratios[key] = phase_ratios(self.scenario.network, self.scenario.intersections[iid], plan,
                                             self.demand, self.webster, self.loads(iid, plan))
        return self._ratios[key]

    def min_greens_s(self, iid: str, plan: SignalPlan) -> list[float]:
        """``phase_min_greens_s`` of ``plan`` at ``iid`` (a fresh list)."""
        key = (iid, plan.phases)
        if key not in self._mins:
            self._mins[key] = phase_min_greens_s(plan, self.scenario.intersections[iid], self.webster.pedestrians,
                                                 self.webster.min_green_s)
        return list(self._mins[key])


def build_arrays(scenario: Scenario, plans: Mapping[str, SignalPlan], demand: Mapping[str, MovementFlow],
                 webster: WebsterParams, params: DelayParams, inputs: PlanInputs | None = None) -> NetworkArrays:
    """Kernel arrays for ``plans`` (one per intersection, one common cycle) and the demand.

    ``inputs``: a :class:`PlanInputs` of this very scenario, demand and ``webster`` to reuse.
    """
    if inputs is None:
        inputs = PlanInputs(scenario, demand, webster)
    elif not inputs.serves(scenario, demand, webster):
        raise ValueError("build_arrays: the PlanInputs were made for another scenario, demand or parameters")
    net = scenario.network
    signals = tuple(sorted(plans))
    cycle = float(next(iter(plans.values())).cycle_s)
    steps = max(8, round(cycle))
    dt = cycle / steps
    sig_index = {s: k for k, s in enumerate(signals)}
    greens, inters, mins, ph_ptr = [], [], [], [0]
    for s in signals:
        phase_mins = inputs.min_greens_s(s, plans[s])
        for p, floor in zip(plans[s].phases, phase_mins, strict=True):
            greens.append(p.green_s)
            inters.append(p.yellow_s + p.all_red_s)
            mins.append(min(floor, p.green_s))
        ph_ptr.append(len(greens))
    # streams and their saturation flows (veh/s), from the lane groups sharing the lanes
    streams: list[str] = []
    sat, flow, st_sig, st_mask = [], [], [], []
    for s in signals:
        inter = scenario.intersections[s]
        loads = {ld.group.id: ld for ld in inputs.loads(s, plans[s])}
        shares = inputs.shares(s)
        for mid in sorted(inter.movements):
            f = demand.get(mid, MovementFlow(0.0, 0.0))
            if f.veh_h <= 0:
                continue
            s_pcu = sum(ld.saturation_pcu_h * f.pcu_h * shares[(g, mid)] / ld.flow_pcu_h
                        for g, ld in loads.items() if (g, mid) in shares and ld.flow_pcu_h > 0)
            mask = sum(1 << k for k, p in enumerate(plans[s].phases) if mid in p.green_movements)
            streams.append(mid)
            sat.append(s_pcu * (f.veh_h / f.pcu_h) / 3600.0)
            flow.append(f.veh_h / 3600.0)
            st_sig.append(sig_index[s])
            st_mask.append(mask)
    index = {m: k for k, m in enumerate(streams)}
    into: dict[str, list[str]] = {}
    leaving: dict[str, float] = {}
    for m in streams:
        mv = net.movements[m]
        into.setdefault(mv.to_link, []).append(m)
        leaving[mv.from_link] = leaving.get(mv.from_link, 0.0) + demand[m].veh_h
    fd_ptr, fd_src, fd_frac, fd_shift, fd_disp, ext = [0], [], [], [], [], []
    a, b = params.dispersion_alpha, params.dispersion_beta
    for m in streams:
        mv = net.movements[m]
        link = net.links[mv.from_link]
        share = demand[m].veh_h / leaving[mv.from_link]
        fed = 0.0
        for up in into.get(mv.from_link, []):
            travel_s = link.length_m / (link.speed_m_s * params.speed_factor) + net.movements[up].internal_time_s
            t_steps = travel_s / dt
            fd_src.append(index[up])
            fd_frac.append(share)
            fd_shift.append(max(1, round(b * t_steps)))
            fd_disp.append(1.0 / (1.0 + a * b * t_steps))
            fed += share * demand[up].veh_h
        ext.append(max(0.0, demand[m].veh_h - fed) / 3600.0)
        fd_ptr.append(len(fd_src))
    # per signal: its own streams, then the streams they feed
    feeds_to: dict[int, set[int]] = {}
    for j in range(len(streams)):
        for feed in range(fd_ptr[j], fd_ptr[j + 1]):
            feeds_to.setdefault(fd_src[feed], set()).add(j)
    aff_ptr, aff_idx = [0], []
    for k in range(len(signals)):
        own = [j for j in range(len(streams)) if st_sig[j] == k]
        down = sorted({d for j in own for d in feeds_to.get(j, ())} - set(own))
        aff_idx += own + down
        aff_ptr.append(len(aff_idx))
    i64, f64 = np.int64, np.float64
    return NetworkArrays(
        signals=signals, streams=tuple(streams), cycle=cycle, steps=steps,
        offsets=np.array([plans[s].offset_s for s in signals], dtype=f64),
        greens=np.array(greens, dtype=f64), min_greens=np.array(mins, dtype=f64), inters=np.array(inters, dtype=f64),
        ph_ptr=np.array(ph_ptr, dtype=i64), st_sig=np.array(st_sig, dtype=i64), st_mask=np.array(st_mask, dtype=i64),
        sat=np.array(sat, dtype=f64), ext=np.array(ext, dtype=f64), flow=np.array(flow, dtype=f64),
        fd_ptr=np.array(fd_ptr, dtype=i64), fd_src=np.array(fd_src, dtype=i64), fd_frac=np.array(fd_frac, dtype=f64),
        fd_shift=np.array(fd_shift, dtype=i64), fd_disp=np.array(fd_disp, dtype=f64),
        aff_ptr=np.array(aff_ptr, dtype=i64), aff_idx=np.array(aff_idx, dtype=i64),
        lost_start=webster.timing.startup_lost_s, yellow_used=webster.timing.yellow_used_s,
        stop_penalty_s=params.stop_penalty_s)
