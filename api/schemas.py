"""Request and response bodies (pydantic), kept apart from the domain dataclasses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from traffic.schema import PhaseModel

NAME = r"^[A-Za-z0-9_.:\-]{1,64}$"
INT32_MAX = 2**31 - 1  # plan versions and row ids are 32-bit INTEGER columns (PostgreSQL); larger ones get 422
MOVEMENTS_MAX = 256


class _In(BaseModel):
    """Every request body: unknown fields, NaN and infinities are refused (422 naming the field)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PhaseIn(PhaseModel):
    """A phase of a plan sent to the API: ``traffic.schema.PhaseModel`` with finite, bounded durations."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(default="", max_length=128)
    green_s: float = Field(ge=0, le=3600)
    yellow_s: float = Field(default=3.0, ge=0, le=60)
    all_red_s: float = Field(default=0.0, ge=0, le=60)
    protected: list[str] = Field(default_factory=list, max_length=MOVEMENTS_MAX)
    permissive: list[str] = Field(default_factory=list, max_length=MOVEMENTS_MAX)
    carry_over: list[str] = Field(default_factory=list, max_length=MOVEMENTS_MAX)
    yellow_name: str = Field(default="", max_length=128)
    all_red_name: str = Field(default="", max_length=128)


class PlanIn(_In):
    """A signal plan, as in scenario files (``traffic.schema.PlanModel``) without the intersection."""

    name: str = Field(pattern=NAME)
    cycle_s: float = Field(gt=0, le=3600)
    offset_s: float = Field(default=0.0, ge=-86400, le=86400)
    phases: list[PhaseIn] = Field(min_length=1, max_length=32)


class PlanPublic(BaseModel):
    id: int
    intersection: str
    name: str
    version: int
    created_by: str
    created_at: float
    cycle_s: float
    offset_s: float
    phases: list[dict[str, Any]]
    active: bool = False


class PlanRejected(BaseModel):
    detail: str
    issues: list[str]


class ActivateIn(_In):
    version: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                description="plan version to activate (default: latest)")


class ActivationOut(BaseModel):
    intersection: str
    plan: str
    version: int
    plan_id: int
    effective_at_s: float = Field(description="cycle boundary (app clock, s since the Unix epoch)")


Mode = Literal["adaptive", "fixed", "failsafe", "manual"]


class ModeIn(_In):
    mode: Mode


class ModeOut(BaseModel):
    intersection: str
    mode: Mode
    version: int


class ScheduleEntry(_In):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                       description="time of day HH:MM in the deployment's time zone (``time_zone``)")
    plan: str = Field(pattern=NAME)


class ScheduleIn(_In):
    entries: list[ScheduleEntry] = Field(max_length=48, description="at most one entry per start time")


class ScheduleOut(BaseModel):
    intersection: str
    version: int
    time_zone: str = Field(description="IANA zone the start times are in (the deployment's, e.g. Asia/Ho_Chi_Minh)")
    entries: list[ScheduleEntry]


class IntervalIn(_In):
    start_s: float = Field(ge=0, le=1e11, description="s since the Unix epoch; the interval must end at most "
                                                       "max_clock_skew_s after the server's clock")
    duration_s: float = Field(gt=0, le=3600)
    health: Literal["ok", "frozen", "blank", "lost", "low_confidence", "unknown"] = "ok"
    counts: dict[str, dict[str, int]] = Field(max_length=256,
                                              description="movement id -> vehicle class -> vehicles "
                                                          "(0..100000; weighted by each class's PCU)")
    queues_veh: dict[str, float] = Field(default_factory=dict, max_length=256)


class BatchIn(_In):
    camera: str = Field(pattern=NAME)
    batch_id: str = Field(pattern=NAME, description="resending the same batch id is a no-op")
    intervals: list[IntervalIn] = Field(min_length=1)


class BatchOut(BaseModel):
    status: Literal["stored", "duplicate"]
    batch_id: str
    stored_intervals: int
    skipped_intervals: int


class UserIn(_In):
    """Name and password rules are ``api.password_policy``'s (422 naming the rule)."""

    name: str = Field(max_length=256, description="1 to 64 letters, digits, '_', '.', '-'")
    role: str = Field(max_length=16, description="viewer, operator, engineer or admin")
    password: str = Field(max_length=1024, description="at least 12 characters, not a common or trivial one")


class UserPatch(_In):
    role: str | None = Field(default=None, max_length=16)
    disabled: bool | None = None


class PasswordIn(_In):
    password: str = Field(max_length=1024)


class OwnPasswordIn(_In):
    old_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class UserOut(BaseModel):
    name: str
    role: str
    created_at: float
    disabled: bool


class SessionOut(BaseModel):
    id: str
    user: str
    created_at: float
    expires_at: float
    source: str


class CameraIn(_In):
    id: str = Field(pattern=NAME)
    intersection: str = Field(min_length=1, max_length=128)


class CameraOut(BaseModel):
    id: str
    intersection: str
    created_at: float
    key_id: str | None = None
    revoked: bool = False
    revoked_at: float | None = None
    api_key: str | None = Field(default=None, description="shown once, at creation and rotation")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class SimulationJobIn(_In):
    seeds: int = Field(default=1, ge=1, le=100)
    duration_s: float | None = Field(default=None, gt=0, le=86400)
    plans: dict[str, str] = Field(default_factory=dict, max_length=1000,
                                  description="intersection id -> stored plan name (latest version); "
                                              "others run the plan in force now")


class OptimizationJobIn(_In):
    method: Literal["webster", "bandwidth", "delay"] = "webster"
    cycle_s: float | None = Field(default=None, gt=0, le=300)
    use_counts: bool = Field(default=False, description="demand from the latest stored counts instead of "
                                                        "the scenario's flows")


class JobOut(BaseModel):
    id: int
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    request: dict[str, Any]
    error: str | None
    created_by: str
    created_at: float
    updated_at: float


class AuditOut(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    target: str
    before: Any
    after: Any
