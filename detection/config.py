"""Per-camera configuration: count lines and zones, each mapped to a key of the domain model.

A file (JSON, or YAML when PyYAML is installed) looks like::

    {"camera": "cam_I1_north", "intersection": "I1",
     "lines": [{"name": "north_stop", "start": [250, 450], "end": [850, 450],
                "in_key": "N_I1>I1_S", "out_key": null}],
     "zones": [{"name": "left_box", "polygon": [[10, 10], [90, 10], [90, 60]], "key": "N_left"}],
     "detect_region": [0, 200, 1280, 720]}

``in_key``/``out_key`` name what a crossing counts for in the ``IntervalCounts`` (a movement id, an
approach link id, or any name); they default to ``<name>:in`` and ``<name>:out``; ``null`` leaves that
direction out of the interval counts (it is still reported in the line totals). ``detect_region``
(optional) is the part of the frame the detector looks at; by default, the lines' and zones'
bounding box with a margin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detection.errors import CameraConfigError
from traffic.scenario_io import format_validation_error

_DEFAULT = "<default>"


@dataclass(frozen=True)
class CountLine:
    """A directed count line from ``start_px`` (A) to ``end_px`` (B) in image pixels.

    A vehicle counts IN when its centre crosses from the left of A->B to its right as seen in the
    image (y pointing down), OUT the other way: a left-to-right horizontal line counts downward
    motion as IN.

    Attributes:
        hysteresis_px: half-width of a band around the line inside which a position does not change
            the side a track is on (absorbs box jitter).
    """

    name: str
    start_px: tuple[float, float]
    end_px: tuple[float, float]
    in_key: str | None = None
    out_key: str | None = None
    hysteresis_px: float = 2.0

    def __post_init__(self) -> None:
        _check_name("line", self.name)
        for attr in ("start_px", "end_px"):
            _check_point(f"line {self.name!r}: {attr}", getattr(self, attr))
        if math.dist(self.start_px, self.end_px) < 1.0:
            raise CameraConfigError(f"line {self.name!r}: start and end are less than 1 px apart "
                                    f"({self.start_px} -> {self.end_px})")
        if not math.isfinite(self.hysteresis_px) or self.hysteresis_px < 0:
            raise CameraConfigError(f"line {self.name!r}: hysteresis_px (={self.hysteresis_px}) must be >= 0")


@dataclass(frozen=True)
class CountZone:
    """A polygon; a track counts once when its centre has been inside for ``min_frames`` processed frames."""

    name: str
    polygon_px: tuple[tuple[float, float], ...]
    key: str | None = None
    min_frames: int = 2

    def __post_init__(self) -> None:
        _check_name("zone", self.name)
        if len(self.polygon_px) < 3:
            raise CameraConfigError(f"zone {self.name!r}: polygon needs at least 3 points, got {len(self.polygon_px)}")
        for i, p in enumerate(self.polygon_px):
            _check_point(f"zone {self.name!r}: polygon[{i}]", p)
        if abs(polygon_area_px2(self.polygon_px)) < 1.0:
            raise CameraConfigError(f"zone {self.name!r}: polygon has no area")
        if self.min_frames < 1:
            raise CameraConfigError(f"zone {self.name!r}: min_frames (={self.min_frames}) must be >= 1")


@dataclass(frozen=True)
class CameraConfig:
    """Everything the counter needs to know about one camera.

    Attributes:
        detect_region_px: ``x1, y1, x2, y2`` of the part of the frame given to the detector; None
            means the lines' and zones' bounding box with a margin (see ``detection.region``).
    """

    camera_id: str
    lines: tuple[CountLine, ...] = ()
    zones: tuple[CountZone, ...] = ()
    intersection: str | None = None
    detect_region_px: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.detect_region_px is not None:
            x1, y1, x2, y2 = self.detect_region_px
            _check_point(f"camera {self.camera_id!r}: detect_region start", (x1, y1))
            _check_point(f"camera {self.camera_id!r}: detect_region end", (x2, y2))
            if x2 - x1 < 32 or y2 - y1 < 32:
                raise CameraConfigError(f"camera {self.camera_id!r}: detect_region {self.detect_region_px} must be "
                                        "x1,y1,x2,y2 with at least 32 px width and height")
        if not self.lines and not self.zones:
            raise CameraConfigError(f"camera {self.camera_id!r}: define at least one count line or zone")
        marks: tuple[CountLine | CountZone, ...] = (*self.lines, *self.zones)
        names = [x.name for x in marks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CameraConfigError(f"camera {self.camera_id!r}: duplicate line/zone name(s) {', '.join(dupes)}")


def polygon_area_px2(points: Sequence[tuple[float, float]]) -> float:
    """Signed area (shoelace formula) of a polygon."""
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True))


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise CameraConfigError(f"{kind} name must be a non-empty string, got {name!r}")


def _check_point(what: str, p: tuple[float, float]) -> None:
    if len(p) != 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in p):
        raise CameraConfigError(f"{what} must be two finite numbers, got {p!r}")
    if min(p) < 0:
        raise CameraConfigError(f"{what} (={tuple(p)}) must not be negative (image pixels)")


class _LineModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    in_key: str | None = _DEFAULT
    out_key: str | None = _DEFAULT
    hysteresis_px: float = 2.0


class _ZoneModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    polygon: list[tuple[float, float]]
    key: str | None = _DEFAULT
    min_frames: int = 2


class _CameraModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: str = Field(min_length=1)
    intersection: str | None = None
    lines: list[_LineModel] = []
    zones: list[_ZoneModel] = []
    detect_region: tuple[float, float, float, float] | None = None


def make_line(name: str, start_px: tuple[float, float], end_px: tuple[float, float],
              in_key: str | None = _DEFAULT, out_key: str | None = _DEFAULT, hysteresis_px: float = 2.0) -> CountLine:
    """A ``CountLine`` whose keys default to ``<name>:in`` / ``<name>:out``."""
    return CountLine(name, (float(start_px[0]), float(start_px[1])), (float(end_px[0]), float(end_px[1])),
                     f"{name}:in" if in_key == _DEFAULT else in_key,
                     f"{name}:out" if out_key == _DEFAULT else out_key, hysteresis_px)


def parse_line_arg(text: str, index: int) -> CountLine:
    """A line from the CLI form ``x1,y1,x2,y2`` (named ``line<index>``)."""
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise CameraConfigError(f"--line {text!r}: expected four numbers x1,y1,x2,y2") from None
    return make_line(f"line{index}", (x1, y1), (x2, y2))


def camera_from_dict(raw: object, where: str = "camera config") -> CameraConfig:
    """Validate a parsed config document; errors name the bad field's path."""
    try:
        m = _CameraModel.model_validate(raw)
    except ValidationError as exc:
        raise CameraConfigError(f"{where}: {format_validation_error(exc)}") from None
    try:
        lines = tuple(make_line(x.name, x.start, x.end, x.in_key, x.out_key, x.hysteresis_px) for x in m.lines)
        zones = tuple(CountZone(z.name, tuple(z.polygon), z.name if z.key == _DEFAULT else z.key, z.min_frames)
                      for z in m.zones)
        return CameraConfig(m.camera, lines, zones, m.intersection, m.detect_region)
    except CameraConfigError as exc:
        raise CameraConfigError(f"{where}: {exc}") from None


def load_camera_config(path: str | Path) -> CameraConfig:
    """Read a camera config from a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CameraConfigError(f"{path}: cannot read camera config ({exc.strerror})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        raw = _parse_yaml(path, text)
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CameraConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                                    f"column {exc.colno}") from None
    return camera_from_dict(raw, str(path))


def _parse_yaml(path: Path, text: str) -> object:
    try:
        import yaml
    except ImportError:
        raise CameraConfigError(f"{path}: reading YAML needs PyYAML (pip install 'greenwave[detect]')") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CameraConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
