"""Read a SUMO configuration (``.sumocfg``): the files it names and its simulated window."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from traffic.errors import SumoFormatError


@dataclass(frozen=True)
class SumoConfig:
    net: Path
    routes: tuple[Path, ...]
    additional: tuple[Path, ...]
    begin_s: float | None
    end_s: float | None


def read_sumocfg(path: str | Path) -> SumoConfig:
    """Files (relative to the config's folder, as SUMO resolves them) and ``begin``/``end``."""
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SumoFormatError(f"cannot read SUMO config {str(p)!r}: {exc}") from None

    def value(*names: str) -> str | None:
        for name in names:
            el = root.find(f".//{name}")
            if el is not None and el.get("value") is not None:
                return el.get("value")
        return None

    def files(*names: str) -> tuple[Path, ...]:
        raw = value(*names)
        return tuple(p.parent / f.strip() for f in raw.split(",") if f.strip()) if raw else ()

    nets = files("net-file", "n")
    if len(nets) != 1:
        raise SumoFormatError(f"SUMO config {str(p)!r} must name exactly one net-file")

    def seconds(name: str) -> float | None:
        raw = value(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            raise SumoFormatError(f"SUMO config {str(p)!r}: {name}={raw!r} is not a number of seconds") from None

    return SumoConfig(nets[0], files("route-files", "r"), files("additional-files", "a"),
                      seconds("begin"), seconds("end"))
