"""Virtual detectors: stop-line counts per movement and class, and queues per lane group, emitted
every interval as ``IntervalCounts``, the same type the video counter produces."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from typing import TYPE_CHECKING

from traffic.counts import Health, IntervalCounts
from traffic.pcu import scenario_pcu
from traffic.signal_plan import SignalPlan

if TYPE_CHECKING:
    import simpy

    from simulation.engine import Simulation
    from simulation.lanes import LaneServer
    from simulation.model import MoveState, Vehicle


class DetectorBank:
    """Counts every stop-line crossing; at each interval end emits one ``IntervalCounts`` per
    intersection (source ``sim:<intersection>``) and hands them to the controller, if any."""

    def __init__(self, sim: Simulation, interval_s: float) -> None:
        self.sim = sim
        self.interval_s = float(interval_s)
        self.history: list[IntervalCounts] = []
        self._counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        self._node_inter = {node: iid for iid, inter in sim.scenario.intersections.items() for node in inter.nodes}
        self._move_inter = {m.id: self._node_inter.get(m.node) for m in sim.scenario.network.movements.values()}
        # per intersection, (lane, lane groups it belongs to): the queues each interval end adds up
        self._queue_lanes = {iid: [(lane, _lane_groups(sim, lane)) for lane in lanes]
                             for iid, lanes in sim.lanes_of_intersection.items()}
        sim.env.process(self._tick())

    def count(self, mv: MoveState, v: Vehicle, lane: LaneServer) -> None:
        iid = self._move_inter.get(mv.id)
        if iid is not None:
            self._counts[iid][mv.id][v.vclass] += 1

    def _tick(self) -> Generator[simpy.Event, None, None]:
        sim = self.sim
        env = sim.env
        start = env.now
        while True:
            yield env.timeout(self.interval_s)
            now = env.now
            emitted: dict[str, IntervalCounts] = {}
            pcu = scenario_pcu(sim.scenario)
            for iid, inter in sim.scenario.intersections.items():
                counts = {m: dict(by_class) for m, by_class in self._counts[iid].items()}
                for m in inter.movements:
                    counts.setdefault(m, {})
                queues: dict[str, float] = defaultdict(float)
                for lane, groups in self._queue_lanes.get(iid, ()):
                    for group in groups:
                        queues[group] += lane.queued(now)
                emitted[iid] = IntervalCounts(source=f"sim:{iid}", intersection=iid, start_s=start,
                                              duration_s=now - start, counts=counts, queues_veh=dict(queues),
                                              health=Health.OK, pcu=pcu)
            self.history.extend(emitted.values())
            self._counts.clear()
            start = now
            controller = sim.controller
            if controller is not None:
                if hasattr(controller, "decide"):
                    plans = controller.decide(now, emitted, sim.signal_states()) or {}
                else:
                    plans = controller(now, emitted) or {}
                for iid, plan in plans.items():
                    sim.request_plan(iid, plan if isinstance(plan, SignalPlan) else list(plan))


def _lane_groups(sim: Simulation, lane: LaneServer) -> list[str]:
    """The lane groups (ids within the intersection) of the movements ``lane`` serves."""
    groups = {mv.lane_group[lane.index] for mv in sim.moves.values()
              if lane in mv.lanes and lane.index in mv.lane_group}
    return sorted(group.split("/", 1)[1] for group in groups)
