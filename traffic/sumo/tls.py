"""Traffic-light programs: SUMO phase lists <-> Greenwave ``SignalPlan``.

A SUMO program is a list of (duration, state) pairs, one character per ``linkIndex``. Greenwave
groups them into phases: a green state, then optionally a state with yellows, then optionally a
clearance state in which only carried-over movements stay green (usually all-red).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from traffic.errors import SumoFormatError
from traffic.intersection import Intersection
from traffic.signal_plan import Interval, Phase, SignalPlan

GREEN = "Gg"
SUPPORTED = set("GgyYr")


@dataclass(frozen=True, slots=True)
class SumoPhase:
    duration_s: float
    state: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class SumoProgram:
    tls_id: str
    program_id: str
    offset_s: float
    phases: tuple[SumoPhase, ...]
    type: str = "static"


def plan_to_sumo_phases(plan: SignalPlan, signal_links: Sequence[str | None]) -> list[SumoPhase]:
    """Expand a plan into SUMO phases (state characters in ``linkIndex`` order)."""
    out = []
    for index, kind, duration in plan.intervals():
        phase = plan.phases[index]
        state = "".join(phase.state_of(m, kind) if m is not None else "r" for m in signal_links)
        name = {Interval.GREEN: phase.name, Interval.YELLOW: phase.yellow_name,
                Interval.ALL_RED: phase.all_red_name}[kind]
        out.append(SumoPhase(duration, state, name))
    return out


def plan_from_sumo(program: SumoProgram, intersection: Intersection) -> SignalPlan:
    """Group a SUMO program's phases into green/yellow/all-red phases.

    Programs that start inside a transition are rotated to start at a green, with the offset
    moved by the rotated time so the signal shows the same colours at every instant.
    Raises ``SumoFormatError`` if the program cannot be represented exactly.
    """
    where = f"tlLogic {program.tls_id!r} program {program.program_id!r}"
    links = intersection.signal_links
    for k, ph in enumerate(program.phases):
        if len(ph.state) != len(links):
            raise SumoFormatError(f"{where}: phase {k} state {ph.state!r} has {len(ph.state)} signals, "
                                  f"the junction has {len(links)}")
        bad = set(ph.state) - SUPPORTED
        if bad:
            raise SumoFormatError(f"{where}: phase {k} uses unsupported signal states {sorted(bad)} "
                                  "(supported: G g y r)")
    cycle = sum(p.duration_s for p in program.phases)
    if cycle <= 0:
        raise SumoFormatError(f"{where}: phases sum to {cycle:g} s")
    errors = []
    for start in _green_starts(program.phases):
        rotated = program.phases[start:] + program.phases[:start]
        try:
            phases = _group(rotated, links, where)
        except SumoFormatError as exc:
            errors.append(str(exc))
            continue
        shift = sum(p.duration_s for p in program.phases[:start])
        plan = SignalPlan(intersection=intersection.id, name=program.program_id, cycle_s=cycle,
                          offset_s=(program.offset_s + shift) % cycle if shift else program.offset_s,
                          phases=tuple(phases))
        if [(p.duration_s, p.state) for p in plan_to_sumo_phases(plan, links)] == \
                [(p.duration_s, _norm(p.state)) for p in rotated]:
            return plan
        errors.append(f"{where}: states cannot be represented as green/yellow/all-red phases")
    raise SumoFormatError(errors[0] if errors else f"{where}: no phase gives green to any movement")


def _norm(state: str) -> str:
    return state.replace("Y", "y")


def _green_starts(phases: Sequence[SumoPhase]) -> list[int]:
    """Candidate first phases: green phases, those right after a yellow first."""
    n = len(phases)
    greens = [i for i, p in enumerate(phases) if "y" not in _norm(p.state) and any(c in GREEN for c in p.state)]
    after_yellow = [i for i in greens if "y" in _norm(phases[i - 1].state) or n == 1]
    return after_yellow + [i for i in greens if i not in after_yellow]


def _movement_states(state: str, links: Sequence[str | None], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for char, m in zip(_norm(state), links, strict=False):
        if m is None:
            continue
        if out.setdefault(m, char) != char:
            raise SumoFormatError(f"{where}: movement {m!r} shows both {out[m]!r} and {char!r} in state {state!r}")
    return out


def _group(phases: Sequence[SumoPhase], links: Sequence[str | None], where: str) -> list[Phase]:
    out: list[Phase] = []
    i, n = 0, len(phases)
    while i < n:
        green = _movement_states(phases[i].state, links, where)
        if any(c == "y" for c in green.values()):
            raise SumoFormatError(f"{where}: phase {i} (yellow) does not follow a green phase")
        greens = {m for m, c in green.items() if c in GREEN}
        name, green_s = phases[i].name, phases[i].duration_s
        i += 1
        yellow_s = all_red_s = 0.0
        yellow_name = all_red_name = ""
        carry: set[str] = set()
        if i < n and "y" in _norm(phases[i].state):
            yellow = _movement_states(phases[i].state, links, where)
            carry = {m for m, c in yellow.items() if c in GREEN}
            if not carry <= greens or any(yellow[m] != green[m] for m in carry):
                raise SumoFormatError(f"{where}: phase {i} turns on green during a yellow")
            yellow_s, yellow_name = phases[i].duration_s, phases[i].name
            i += 1
            if i < n and "y" not in _norm(phases[i].state):
                clear = _movement_states(phases[i].state, links, where)
                if {m for m, c in clear.items() if c in GREEN} == carry and all(clear[m] == green[m] for m in carry):
                    all_red_s, all_red_name = phases[i].duration_s, phases[i].name
                    i += 1
        else:
            nxt = _movement_states(phases[i % n].state, links, where)
            carry = {m for m in greens if nxt.get(m) in tuple(GREEN) and nxt[m] == green[m]}
        out.append(Phase(name=name, green_s=green_s, yellow_s=yellow_s, all_red_s=all_red_s,
                         protected=frozenset(m for m in greens if green[m] == "G"),
                         permissive=frozenset(m for m in greens if green[m] == "g"),
                         carry_over=frozenset(carry), yellow_name=yellow_name, all_red_name=all_red_name))
    return out


def read_tls_programs(path: str | Path) -> list[SumoProgram]:
    """Every ``tlLogic`` in a SUMO net or additional file, in file order."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SumoFormatError(f"cannot read SUMO file {str(path)!r}: {exc}") from None
    programs = []
    for tl in root.iter("tlLogic"):
        try:
            phases = tuple(SumoPhase(float(p.get("duration", "nan")), p.get("state", ""), p.get("name", ""))
                           for p in tl.iter("phase"))
            programs.append(SumoProgram(tl.get("id", ""), tl.get("programID", "0"),
                                        float(tl.get("offset", "0")), phases, tl.get("type", "static")))
        except ValueError as exc:
            raise SumoFormatError(f"{path}: tlLogic {tl.get('id')!r}: bad number: {exc}") from None
    return programs


def write_tls_additional(plans: Iterable[SignalPlan], intersections: dict[str, Intersection],
                         path: str | Path, program_id: str | None = None) -> None:
    """Write plans as a SUMO additional file of static ``tlLogic`` programs.

    Each program is named ``program_id``, or the plan's own name when ``None``. SUMO refuses a
    program whose id is already defined for that signal (e.g. the net's own ``0``), so exports
    meant to be loaded beside the net use an id of their own.
    """
    lines = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
             "<!-- signal programs written by Greenwave -->", "<additional>"]
    for plan in plans:
        links = intersections[plan.intersection].signal_links
        if not links:
            raise SumoFormatError(f"intersection {plan.intersection!r} has no SUMO link indices "
                                  "(it was not imported from SUMO)")
        lines.append(f"    <tlLogic id={quoteattr(plan.intersection)} type=\"static\" "
                     f"programID={quoteattr(program_id or plan.name)} offset=\"{_num(plan.offset_s)}\">")
        for ph in plan_to_sumo_phases(plan, links):
            name = f" name={quoteattr(ph.name)}" if ph.name else ""
            lines.append(f"        <phase duration=\"{_num(ph.duration_s)}\" state=\"{ph.state}\"{name}/>")
        lines.append("    </tlLogic>")
    lines.append("</additional>")
    from traffic.atomic_write import write_text_atomic

    write_text_atomic(path, "\n".join(lines) + "\n")


def _num(x: float) -> str:
    return f"{x:.10g}"
