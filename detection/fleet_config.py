"""``CAMERAS.json``: the cameras ``greenwave count-cameras`` runs, each with its source, camera config,
credential and intersection.

A file looks like::

    {"model": "models/yolo11n_int8.tflite", "interval_s": 60,
     "restart": {"max_restarts": 3, "initial_s": 1.0, "max_s": 60.0},
     "batch": {"size": 8, "max_wait_ms": 20},
     "cameras": [
       {"id": "cam-7", "source": "rtsp://user:pass@10.0.0.7/stream", "config": "cam7.json",
        "credential_env": "GW_CAM7_KEY", "intersection": "I1"},
       {"id": "cam-8", "source": "clips/cam8.mp4", "config": "cam8.json",
        "credential": "gwk_...", "intersection": "I2", "stride": 2}]}

Relative paths (sources that are files, camera configs, a model file) are relative to the folder
of ``CAMERAS.json``, and must exist at the same place on every Dask worker. ``id`` is the camera's
id in the control API (``greenwave cameras create ID --intersection I`` prints its key); a camera
gives its key either inline (``credential``) or as the name of an environment variable of the
``count-cameras`` process (``credential_env``). A camera config that names an intersection must
name the camera's. ``model``, ``interval_s``, ``stride``, ``max_frames`` and ``tracker`` set at
the top are defaults that a camera may override.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detection.batching import MAX_BATCH_SIZE, MAX_WAIT_LIMIT_MS, BatchSettings
from detection.config import CameraConfig, load_camera_config
from detection.detector import DEFAULT_MODEL
from detection.errors import CameraConfigError
from detection.sources import _URL_SCHEMES, Backoff
from traffic.scenario_io import format_validation_error

NAME = r"^[A-Za-z0-9_.:\-]{1,64}$"  # as the control API's camera ids


class _RestartModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_restarts: int = Field(default=3, ge=0, le=1000)
    initial_s: float = Field(default=1.0, ge=0, le=3600)
    factor: float = Field(default=2.0, ge=1, le=10)
    max_s: float = Field(default=60.0, ge=0, le=86400)


class _BatchModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(ge=1, le=MAX_BATCH_SIZE)
    max_wait_ms: float = Field(default=20.0, ge=0, le=MAX_WAIT_LIMIT_MS, allow_inf_nan=False)


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, min_length=1)
    interval_s: float | None = Field(default=None, gt=0, le=3600)
    stride: int | Literal["auto"] | None = None
    max_frames: int | None = Field(default=None, ge=1)
    tracker: Literal["motion", "bytetrack", "botsort"] | None = None


class _CameraModel(_Settings):
    id: str = Field(pattern=NAME)
    source: str = Field(min_length=1)
    config: str = Field(min_length=1)
    intersection: str = Field(min_length=1)
    credential: str | None = Field(default=None, min_length=1)
    credential_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _one_credential(self) -> _CameraModel:
        if (self.credential is None) == (self.credential_env is None):
            raise ValueError("give exactly one of credential and credential_env")
        return self


class _FleetModel(_Settings):
    cameras: list[_CameraModel] = Field(min_length=1)
    restart: _RestartModel = _RestartModel()
    batch: _BatchModel | None = None


@dataclass(frozen=True)
class CameraJob:
    """Everything one camera's worker needs (a camera config already parsed, a credential resolved).

    Attributes:
        epoch_anchor_s: Unix time of stream time 0 for a file source, fixed for the whole fleet run
            so a restarted file re-sends the same interval start times (the API skips those it has).
    """

    camera_id: str
    source: str
    camera: CameraConfig
    intersection: str
    api_url: str
    api_key: str = field(repr=False)
    model: str = DEFAULT_MODEL
    interval_s: float = 60.0
    stride: int | None = None  # None: auto
    max_frames: int | None = None
    tracker: str = "motion"
    epoch_anchor_s: float = 0.0
    cpu_threads: int | None = None
    batch: BatchSettings | None = None  # None: the camera has a detector of its own


@dataclass(frozen=True)
class RestartPolicy:
    """At most ``max_restarts`` restarts per camera, waiting ``backoff.delay_s(n)`` before the n-th."""

    max_restarts: int = 3
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=1.0, factor=2.0, max_s=60.0))


@dataclass(frozen=True)
class Fleet:
    jobs: tuple[CameraJob, ...]
    restart: RestartPolicy


def load_fleet(path: str | Path, api_url: str, epoch_anchor_s: float) -> Fleet:
    """Read and check ``CAMERAS.json``; errors name the file and the bad field's path.

    Raises:
        CameraConfigError: unreadable file, bad field, duplicate id, unset credential variable,
            bad camera config, or a camera config for another intersection.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CameraConfigError(f"{path}: cannot read cameras file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise CameraConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        m = _FleetModel.model_validate(raw)
    except ValidationError as exc:
        raise CameraConfigError(f"{path}: {format_validation_error(exc)}") from None
    ids = [c.id for c in m.cameras]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CameraConfigError(f"{path}: camera id(s) given twice: {', '.join(dupes)}")
    batch = None if m.batch is None else BatchSettings(m.batch.size, m.batch.max_wait_ms)
    jobs = tuple(replace(_job(path, i, c, m, api_url, epoch_anchor_s), batch=batch) for i, c in enumerate(m.cameras))
    r = m.restart
    return Fleet(jobs, RestartPolicy(r.max_restarts, Backoff(r.initial_s, r.factor, r.max_s)))


def _job(path: Path, i: int, c: _CameraModel, top: _FleetModel, api_url: str, anchor_s: float) -> CameraJob:
    where = f"{path}: cameras[{i}]"
    key = c.credential
    if c.credential_env is not None:
        key = os.environ.get(c.credential_env, "").strip()
        if not key:
            raise CameraConfigError(f"{where}.credential_env: environment variable {c.credential_env} is not set")
    try:
        camera = load_camera_config(_relative(path, c.config))
    except CameraConfigError as exc:
        raise CameraConfigError(f"{where}.config: {exc}") from None
    if camera.intersection is not None and camera.intersection != c.intersection:
        raise CameraConfigError(f"{where}: its camera config counts for intersection {camera.intersection!r}, "
                                f"not {c.intersection!r}")
    stride = c.stride if c.stride is not None else top.stride
    if isinstance(stride, int) and stride < 1:
        raise CameraConfigError(f"{where}.stride: must be >= 1 or 'auto' (got {stride})")
    interval_s = c.interval_s or top.interval_s or 60.0
    if not math.isfinite(interval_s):
        raise CameraConfigError(f"{where}.interval_s: must be a finite number")
    model = c.model or top.model or DEFAULT_MODEL
    return CameraJob(c.id, _source(path, c.source), camera, c.intersection, api_url.rstrip("/"), str(key),
                     model=_relative_if_exists(path, model), interval_s=interval_s,
                     stride=None if stride in (None, "auto") else int(stride),
                     max_frames=c.max_frames or top.max_frames, tracker=c.tracker or top.tracker or "motion",
                     epoch_anchor_s=anchor_s)


def _relative(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else base.parent / q


def _relative_if_exists(base: Path, p: str) -> str:
    """A model path relative to the cameras file when such a file exists; otherwise as given (a name
    Ultralytics downloads, such as ``yolo11n.pt``)."""
    q = _relative(base, p)
    return str(q) if q.exists() else p


def _source(base: Path, spec: str) -> str:
    if spec.isdigit() or spec.lower().startswith(_URL_SCHEMES):
        return spec
    return str(_relative(base, spec))


def with_batch(fleet: Fleet, batch: BatchSettings | None) -> Fleet:
    """The fleet with batched inference set for every camera (None: each camera its own detector)."""
    return replace(fleet, jobs=tuple(replace(j, batch=batch) for j in fleet.jobs))
