"""Signal timing as the simulator sees it: when may a movement cross its stop line.

A ``SignalTimer`` runs one intersection's plan, and can take a new plan, which starts its phase 0
at the end of the current cycle (a running controller never cuts a phase short). Windows are
computed from the plans arithmetically, so the simulator needs no event per phase change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from traffic.signal_plan import Interval, SignalPlan


@dataclass(frozen=True, slots=True)
class Window:
    """Cycle-relative time span in which a movement may cross: ``[start_s, go_end_s)``.

    ``green_end_s`` is where green ends (yellow follows) and ``go_end_s`` adds the part of the
    yellow that drivers still use. ``permissive`` windows require yielding.
    """

    start_s: float
    green_end_s: float
    go_end_s: float
    permissive: bool


def movement_windows(plan: SignalPlan, yellow_go_s: float) -> dict[str, list[Window]]:
    """Per movement, its windows within one cycle (position 0 = start of phase 0)."""
    spans: dict[str, list[list]] = {}
    t = 0.0
    for index, kind, dur in plan.intervals():
        phase = plan.phases[index]
        for m in phase.green_movements:
            state = phase.state_of(m, kind)
            if state not in "Gg":
                continue
            permissive = state == "g"
            runs = spans.setdefault(m, [])
            if runs and abs(runs[-1][1] - t) < 1e-9 and runs[-1][2] == permissive:
                runs[-1][1] = t + dur
            else:
                runs.append([t, t + dur, permissive])
        t += dur
    cycle = plan.cycle_s
    out: dict[str, list[Window]] = {}
    for m, runs in spans.items():
        # a run that ends at the cycle end and one that starts at 0 are one window across the boundary
        if len(runs) > 1 and abs(runs[-1][1] - cycle) < 1e-9 and runs[0][0] < 1e-9 and runs[0][2] == runs[-1][2]:
            first = runs.pop(0)
            runs[-1][1] = cycle + first[1]
        windows = []
        for k, (s, e, perm) in enumerate(runs):
            nxt = runs[(k + 1) % len(runs)]
            continues = abs((nxt[0] + (cycle if k == len(runs) - 1 else 0)) - e) < 1e-9
            go_end = e if continues else e + yellow_go_s
            windows.append(Window(s, e, go_end, perm))
        out[m] = windows
    return out


class SignalTimer:
    """The plan in force at an intersection over time, with plan changes at cycle boundaries.

    Queries never change state; the simulator calls ``commit`` when a requested plan starts.
    """

    __slots__ = ("_cache", "_later", "_next", "_next_end", "_switch_at", "_windows", "_yellow_go_s", "anchor_s",
                 "plan")

    def __init__(self, plan: SignalPlan, yellow_go_s: float) -> None:
        self._yellow_go_s = yellow_go_s
        self.plan = plan
        self.anchor_s = plan.offset_s  # phase 0 starts at anchor_s + k * cycle
        self._windows = movement_windows(plan, yellow_go_s)
        self._next: tuple[SignalPlan, dict[str, list[Window]]] | None = None
        self._switch_at = math.inf
        self._next_end = math.inf  # when the next plan hands over to a later one (transition cycles)
        self._later: list[SignalPlan] = []  # plans after the next one, each but the last for one cycle
        # movement -> (asked_s, start_s, go_end_s, permissive): the answer for any t in
        # [asked_s, go_end_s); cleared whenever the plans change
        self._cache: dict[str, tuple[float, float, float, bool]] = {}

    @property
    def switch_at_s(self) -> float:
        return self._switch_at

    @property
    def pending_plan(self) -> SignalPlan | None:
        return self._next[0] if self._next else None

    def cycle_end_after(self, t_s: float) -> float:
        c = self.plan.cycle_s
        return self.anchor_s + (math.floor((t_s - self.anchor_s) / c) + 1) * c

    def request(self, plans: SignalPlan | list[SignalPlan], now_s: float) -> float:
        """Run ``plans`` from the end of the current cycle; returns when the first starts.

        Every plan but the last runs for one cycle (transition cycles); a later request before the
        first starts replaces this one.
        """
        sequence = [plans] if isinstance(plans, SignalPlan) else list(plans)
        self._switch_at = self.cycle_end_after(now_s)
        self._next = (sequence[0], movement_windows(sequence[0], self._yellow_go_s))
        self._later = sequence[1:]
        self._next_end = self._switch_at + sequence[0].cycle_s if self._later else math.inf
        self._cache.clear()
        return self._switch_at

    def commit(self) -> float:
        """Make the requested plan current (call at ``switch_at_s``); returns when the following
        plan of the sequence starts (``inf`` if none)."""
        if self._next is not None:
            self.plan, self._windows = self._next
            self.anchor_s = self._switch_at
            self._next = None
            self._switch_at = math.inf
            self._cache.clear()
            if self._later:
                return self.request(self._later, self.anchor_s)
        return math.inf

    def next_go(self, movement: str, t_s: float) -> tuple[float, float, bool, bool]:
        """Earliest time >= ``t_s`` at which ``movement`` may cross.

        Returns ``(t_go, go_end, permissive, waited)``: the window it falls in ends at ``go_end``;
        ``waited`` is True when ``t_s`` was outside any window (the vehicle stood at red).
        Returns ``(inf, inf, False, True)`` for a movement that is never served.
        """
        hit = self._cache.get(movement)
        if hit is not None and hit[0] <= t_s < hit[2]:
            if t_s >= hit[1]:
                return t_s, hit[2], hit[3], False
            return hit[1], hit[2], hit[3], True
        found = self._next_go(movement, t_s)
        if found[0] < math.inf:
            self._cache[movement] = (t_s, found[0], found[1], found[2])
        return found

    def _next_go(self, movement: str, t_s: float) -> tuple[float, float, bool, bool]:
        if t_s < self._switch_at:
            found = _search(self._windows.get(movement), self.anchor_s, self.plan.cycle_s, t_s)
            if found is not None and found[0] < self._switch_at:
                return found[0], min(found[1], self._switch_at), found[2], found[3]
            if self._next is None:
                return math.inf, math.inf, False, True
            t_s, waited = self._switch_at, True
        else:
            waited = False
        assert self._next is not None
        plan, windows = self._next
        if t_s >= self._next_end:  # beyond the one transition cycle the next plan runs
            return self._next_end, self._next_end, False, True
        found = _search(windows.get(movement), self._switch_at, plan.cycle_s, t_s)
        if found is None or found[0] >= self._next_end:
            return self._next_end, self._next_end, False, True
        return found[0], min(found[1], self._next_end), found[2], found[3] or waited


def _search(windows: list[Window] | None, anchor_s: float, cycle_s: float,
            t_s: float) -> tuple[float, float, bool, bool] | None:
    if not windows:
        return None
    base = anchor_s + math.floor((t_s - anchor_s) / cycle_s) * cycle_s
    best: tuple[float, float, bool, bool] | None = None
    for shift in (-cycle_s, 0.0, cycle_s):
        start_c = base + shift
        for w in windows:
            s, e = start_c + w.start_s, start_c + w.go_end_s
            if s <= t_s < e:
                return t_s, e, w.permissive, False
            if s > t_s and (best is None or s < best[0]):
                best = (s, e, w.permissive, True)
    return best


__all__ = ["Interval", "SignalTimer", "Window", "movement_windows"]
