"""The audit log: read-only through the API (the database refuses UPDATE and DELETE too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from api import store
from api.db import AuditEntry
from api.deps import DB, Viewer
from api.schemas import AuditOut

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditOut])
def list_audit(db: DB, _: Viewer, after_id: int = Query(default=0, ge=0, le=2**62),
               action: str | None = Query(default=None, max_length=32),
               limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Entries newest first (``after_id`` pages forward from an id you have seen)."""
    q = select(AuditEntry).where(AuditEntry.id > after_id)
    if action:
        q = q.where(AuditEntry.action == action)
    return [store.audit_json(e) for e in db.scalars(q.order_by(AuditEntry.id.desc()).limit(limit))]
