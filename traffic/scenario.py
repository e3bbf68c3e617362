"""A scenario: network, intersections with their signal plans, demand and reporting groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from traffic.demand import Demand, Flow, Trip
from traffic.errors import ModelError, PlanValidationError
from traffic.frozen import FrozenMap
from traffic.intersection import Intersection
from traffic.network import Network
from traffic.plan_validation import DEFAULT_RULES, ValidationRules, validate_plan
from traffic.signal_plan import SignalPlan


@dataclass(frozen=True)
class Scenario:
    """Everything needed to simulate or optimise a road network.

    Attributes:
        plans: intersection id -> program name -> plan.
        active_plans: intersection id -> name of the program that runs by default.
        route_groups: reporting name (e.g. ``EB_through``) -> route ids.
        begin_s, end_s: the simulated window; demand outside it is ignored.
    """

    name: str
    network: Network
    intersections: Mapping[str, Intersection]
    plans: Mapping[str, Mapping[str, SignalPlan]]
    active_plans: Mapping[str, str]
    demand: Demand
    route_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    begin_s: float = 0.0
    end_s: float = 3600.0
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "intersections", FrozenMap(dict(self.intersections)))
        object.__setattr__(self, "plans", FrozenMap({k: FrozenMap(dict(v))
                                                            for k, v in self.plans.items()}))
        object.__setattr__(self, "active_plans", FrozenMap(dict(self.active_plans)))
        object.__setattr__(self, "route_groups", FrozenMap({k: tuple(v) for k, v in self.route_groups.items()}))
        if self.end_s <= self.begin_s:
            raise ModelError(f"scenario {self.name!r}: end_s (={self.end_s}) must be after begin_s (={self.begin_s})")
        self._check_intersections()
        self._check_demand()

    def _check_intersections(self) -> None:
        for iid, inter in self.intersections.items():
            for node in inter.nodes:
                if node not in self.network.nodes:
                    raise ModelError(f"intersection {iid!r}: unknown node {node!r}")
            programs = self.plans.get(iid, {})
            if not programs:
                raise ModelError(f"intersection {iid!r}: has no signal plan")
            for name, plan in programs.items():
                if plan.intersection != iid or plan.name != name:
                    raise ModelError(f"intersection {iid!r}: plan stored as {name!r} is "
                                     f"{plan.name!r} of {plan.intersection!r}")
            active = self.active_plans.get(iid)
            if active not in programs:
                raise ModelError(f"intersection {iid!r}: active plan {active!r} is not one of {sorted(programs)}")
        for iid in self.plans:
            if iid not in self.intersections:
                raise ModelError(f"plans given for unknown intersection {iid!r}")

    def _check_demand(self) -> None:
        for route in self.demand.routes.values():
            try:
                self.network.check_route(route.links)
            except ModelError as exc:
                raise ModelError(f"route {route.id!r}: {exc}") from None
        items: tuple[Flow | Trip, ...] = (*self.demand.flows, *self.demand.trips)
        for item in items:
            for attr in ("origin", "destination"):
                link = getattr(item, attr)
                if link is not None and link not in self.network.links:
                    raise ModelError(f"{item.id!r}: unknown {attr} link {link!r}")
        for group, routes in self.route_groups.items():
            missing = [r for r in routes if r not in self.demand.routes]
            if missing:
                raise ModelError(f"route group {group!r}: unknown routes {missing}")

    def active_plan(self, intersection_id: str) -> SignalPlan:
        return self.plans[intersection_id][self.active_plans[intersection_id]]

    def active_plan_set(self) -> dict[str, SignalPlan]:
        return {iid: self.active_plan(iid) for iid in self.intersections}

    def plan_names(self) -> list[str]:
        return sorted({name for programs in self.plans.values() for name in programs})

    def select_plan(self, name: str) -> Scenario:
        """The scenario with program ``name`` active wherever an intersection has it."""
        if name not in self.plan_names():
            raise ModelError(f"scenario {self.name!r} has no plan named {name!r} "
                             f"(known: {', '.join(self.plan_names())})")
        active = {iid: (name if name in self.plans[iid] else cur) for iid, cur in self.active_plans.items()}
        return replace(self, active_plans=active)

    def with_plans(self, plans: Mapping[str, SignalPlan], rules: ValidationRules = DEFAULT_RULES) -> Scenario:
        """Add ``plans`` (intersection id -> plan) and make them active, after safety validation.

        Intersections not in ``plans`` keep their active plan. Raises ``PlanValidationError`` (and
        changes nothing) if any plan is unsafe.
        """
        issues: list[str] = []
        for iid, plan in plans.items():
            if iid not in self.intersections:
                issues.append(f"plan {plan.name!r}: unknown intersection {iid!r}")
                continue
            issues += validate_plan(plan, self.intersections[iid], rules)
        if issues:
            raise PlanValidationError(issues)
        programs = {iid: dict(p) for iid, p in self.plans.items()}
        active = dict(self.active_plans)
        for iid, plan in plans.items():
            programs[iid][plan.name] = plan
            active[iid] = plan.name
        return replace(self, plans=programs, active_plans=active)

    def validate_active_plans(self, rules: ValidationRules = DEFAULT_RULES) -> list[str]:
        issues: list[str] = []
        for iid, inter in self.intersections.items():
            issues += validate_plan(self.active_plan(iid), inter, rules)
        return issues

    def route_links(self, item: Flow | Trip) -> tuple[str, ...]:
        """The links a flow's or trip's vehicles drive: its named route, or the fastest OD route."""
        if item.route is not None:
            return self.demand.routes[item.route].links
        assert item.origin is not None and item.destination is not None
        return self.network.fastest_route(item.origin, item.destination)
