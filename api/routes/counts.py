"""Counts ingestion from camera workers (batched, idempotent) and reading stored intervals."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db import CountBatch, CountInterval, CountRow
from api.deps import DB, CameraCaller, Ctx, Viewer
from api.errors import ApiError
from api.live import latest_interval
from api.schemas import BatchIn, BatchOut

router = APIRouter(tags=["counts"])


@router.post("/counts", response_model=BatchOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": BatchOut, "description": "batch already received: nothing stored"},
                        403: {"description": "a camera may only push its own counts"},
                        413: {"description": "batch too large"}})
def push_counts(body: BatchIn, ctx: Ctx, db: DB, cam: CameraCaller, response: Response) -> dict[str, Any]:
    """Store a batch of intervals from one camera in one transaction.

    Resending a batch (same ``batch_id``) stores nothing and answers 200 ``duplicate``; an interval
    the camera already sent in another batch (same ``start_s``) is skipped.
    """
    if body.camera != cam.camera:
        raise ApiError(403, f"this key belongs to camera {cam.camera!r}, not {body.camera!r}")
    if len(body.intervals) > ctx.settings.max_batch_intervals:
        raise ApiError(413, f"batch of {len(body.intervals)} intervals; at most {ctx.settings.max_batch_intervals}")
    iid = ctx.live.cameras.get(body.camera)
    if iid is None or iid not in ctx.scenario.intersections:
        raise ApiError(409, f"camera {body.camera!r} is not attached to an intersection of this scenario")
    _check_keys(ctx, iid, body)
    _check_clock(ctx, body)
    if db.scalar(select(CountBatch.id).where(CountBatch.camera == body.camera, CountBatch.batch_id == body.batch_id)):
        return _duplicate(ctx, body, response)
    starts = [iv.start_s for iv in body.intervals]
    known = set(db.scalars(select(CountInterval.start_s).where(CountInterval.camera == body.camera,
                                                               CountInterval.start_s.in_(starts))))
    fresh = [iv for iv in body.intervals if iv.start_s not in known]
    now = ctx.now()
    batch = CountBatch(camera=body.camera, batch_id=body.batch_id, received_at=now, intervals=len(fresh))
    db.add(batch)
    try:
        db.flush()
        stored = []
        for iv in fresh:
            row = CountInterval(batch_pk=batch.id, camera=body.camera, intersection=iid, start_s=iv.start_s,
                                duration_s=iv.duration_s, health=iv.health, queues=json.dumps(iv.queues_veh))
            db.add(row)
            db.flush()
            db.add_all(CountRow(interval_id=row.id, movement=key, vehicle_class=cls, vehicles=n)
                       for key, by_class in iv.counts.items() for cls, n in by_class.items())
            stored.append((row.id, iv))
        db.commit()
    except IntegrityError:  # the same batch raced in on another connection
        db.rollback()
        return _duplicate(ctx, body, response)
    for row_id, iv in stored:
        ctx.live.set_latest(iid, latest_interval(row_id, body.camera, iv.start_s, iv.duration_s, iv.health,
                                                 iv.counts, iv.queues_veh, ctx.live.pcu))
    if ctx.loop is not None and stored:
        ctx.loop.note_counts(iid, body.camera, [(iv.start_s, iv.duration_s, iv.health, iv.counts, iv.queues_veh)
                                                for _, iv in stored])
    ctx.metrics.inc("count_intervals_stored_total", len(stored))
    if stored:
        last = max(stored, key=lambda s: s[1].start_s)[1]
        ctx.hub.publish({"type": "counts", "intersection": iid, "camera": body.camera, "start_s": last.start_s,
                         "duration_s": last.duration_s, "health": last.health,
                         "vehicles": {k: sum(v.values()) for k, v in last.counts.items()}})
    return {"status": "stored", "batch_id": body.batch_id, "stored_intervals": len(stored),
            "skipped_intervals": len(body.intervals) - len(stored)}


def _duplicate(ctx: Ctx, body: BatchIn, response: Response) -> dict[str, Any]:
    ctx.metrics.inc("count_batches_duplicate_total")
    response.status_code = status.HTTP_200_OK
    return {"status": "duplicate", "batch_id": body.batch_id, "stored_intervals": 0,
            "skipped_intervals": len(body.intervals)}


def _check_clock(ctx: Ctx, body: BatchIn) -> None:
    """Refuse intervals from a camera whose clock is off: ending in the future beyond ``max_clock_skew_s``
    (it would stay the camera's "latest" interval and hide every later one) or older than
    ``max_interval_age_s``."""
    now = ctx.now()
    skew, age = ctx.settings.max_clock_skew_s, ctx.settings.max_interval_age_s
    for i, iv in enumerate(body.intervals):
        ahead = iv.start_s + iv.duration_s - now
        if ahead > skew:
            raise ApiError(422, f"intervals[{i}].start_s: the interval ends {ahead:.0f} s after the server's clock "
                                f"(now {now:.0f} s since the epoch; at most {skew:g} s ahead is accepted): "
                                "check the camera's clock")
        if now - iv.start_s > age:
            raise ApiError(422, f"intervals[{i}].start_s: the interval starts {now - iv.start_s:.0f} s before the "
                                f"server's clock (at most {age:g} s back is accepted): check the camera's clock")


def _check_keys(ctx: Ctx, iid: str, body: BatchIn) -> None:
    inter = ctx.scenario.intersections[iid]
    allowed = set(inter.movements) | set(inter.approaches)
    starts = [iv.start_s for iv in body.intervals]
    if len(set(starts)) != len(starts):
        raise ApiError(422, "two intervals of the batch have the same start_s")
    for i, iv in enumerate(body.intervals):
        unknown = sorted(set(iv.counts) - allowed) + sorted(set(iv.queues_veh) - allowed)
        if unknown:
            raise ApiError(422, f"intervals[{i}]: {unknown[:5]} are not movements or approaches of {iid!r}")
        for key, by_class in iv.counts.items():
            for cls, n in by_class.items():
                if n < 0 or n > 100_000 or not 0 < len(cls) <= 32:
                    raise ApiError(422, f"intervals[{i}].counts[{key!r}][{cls!r}]: need a class name of 1-32 "
                                        "characters and 0 <= vehicles <= 100000")
        if any(not (0 <= q < 1e6) for q in iv.queues_veh.values()):
            raise ApiError(422, f"intervals[{i}].queues_veh: values must be 0 <= q < 1e6")


@router.get("/intersections/{iid}/counts")
def list_counts(iid: str, ctx: Ctx, db: DB, _: Viewer,
                since_s: float = Query(default=0.0, ge=0, le=1e11, allow_inf_nan=False),
                limit: int = Query(default=20, ge=1, le=500)) -> list[dict[str, Any]]:
    """Stored intervals of the intersection's cameras (newest first), with vehicles per movement and class."""
    if iid not in ctx.scenario.intersections:
        raise ApiError(404, f"no intersection {iid!r}")
    rows = db.scalars(select(CountInterval).where(CountInterval.intersection == iid, CountInterval.start_s >= since_s)
                      .order_by(CountInterval.start_s.desc()).limit(limit)).all()
    out = []
    for r in rows:
        counts: dict[str, dict[str, int]] = {}
        for c in db.scalars(select(CountRow).where(CountRow.interval_id == r.id)):
            counts.setdefault(c.movement, {})[c.vehicle_class] = c.vehicles
        out.append({"camera": r.camera, "start_s": r.start_s, "duration_s": r.duration_s, "health": r.health,
                    "counts": counts, "queues_veh": json.loads(r.queues)})
    return out
