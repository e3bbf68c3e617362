"""Users, sessions and cameras (admin only); every change audited (``api.accounts``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from api import accounts
from api.context import AppContext
from api.db import User
from api.deps import DB, Admin, Ctx
from api.errors import ApiError
from api.schemas import CameraIn, CameraOut, PasswordIn, SessionOut, UserIn, UserOut, UserPatch
from api.sessions import open_sessions

router = APIRouter(tags=["admin"])


def create_user(db: Session, name: str, role: str, password: str, actor: str, now_s: float) -> User:
    """Store a user (audited); ``ApiError`` 422 for a bad name, role or weak password, 409 if taken."""
    return accounts.create_user(db, name, role, password, actor, now_s)


def create_camera(ctx: AppContext, db: Session, camera_id: str, iid: str, actor: str) -> dict[str, Any]:
    """Register a camera of the managed scenario; the answer holds its API key (shown only once)."""
    out = accounts.create_camera(db, camera_id, iid, actor, ctx.now())
    ctx.live.cameras[camera_id] = iid
    return out


@router.get("/users", response_model=list[UserOut])
def list_users(db: DB, _: Admin) -> list[dict[str, Any]]:
    return [accounts.user_json(u) for u in accounts.list_users(db)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "name taken"}, 422: {"description": "bad name or role, weak password"}})
def post_user(body: UserIn, ctx: Ctx, db: DB, who: Admin) -> dict[str, Any]:
    return accounts.user_json(create_user(db, body.name, body.role, body.password, who.name, ctx.now()))


@router.patch("/users/{name}", response_model=UserOut,
              responses={404: {"description": "no such user"}, 409: {"description": "the last enabled admin"}})
def patch_user(name: str, body: UserPatch, ctx: Ctx, db: DB, who: Admin) -> dict[str, Any]:
    """Change the role and/or disable or enable a user; the user's tokens stop working at once."""
    if body.role is None and body.disabled is None:
        raise ApiError(422, "nothing to change: give role and/or disabled")
    return accounts.user_json(accounts.update_user(db, name, who.name, ctx.now(), role=body.role,
                                                   disabled=body.disabled))


@router.delete("/users/{name}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such user"}, 409: {"description": "the last enabled admin"}})
def delete_user(name: str, ctx: Ctx, db: DB, who: Admin) -> None:
    accounts.delete_user(db, name, who.name, ctx.now())


@router.put("/users/{name}/password", status_code=status.HTTP_204_NO_CONTENT,
            responses={404: {"description": "no such user"}, 422: {"description": "weak password"}})
def reset_password(name: str, body: PasswordIn, ctx: Ctx, db: DB, who: Admin) -> None:
    """Set a user's password (a reset); the user's sessions end."""
    accounts.reset_password(db, name, body.password, who.name, ctx.now())


@router.get("/sessions", response_model=list[SessionOut])
def list_sessions(ctx: Ctx, db: DB, _: Admin,
                  user: str | None = Query(default=None, max_length=64)) -> list[dict[str, Any]]:
    """Open sessions (not revoked, not expired), newest first; of one user with ``?user=``."""
    if user is not None and "\x00" in user:
        return []
    return open_sessions(db, ctx.now(), user)


@router.delete("/sessions/{sid}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such open session"}})
def revoke_session(sid: str, ctx: Ctx, db: DB, who: Admin) -> None:
    accounts.revoke_session(db, sid, who.name, ctx.now())


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(db: DB, _: Admin) -> list[dict[str, Any]]:
    return [accounts.camera_json(c) for c in accounts.list_cameras(db)]


@router.post("/cameras", response_model=CameraOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "id taken"}})
def post_camera(body: CameraIn, ctx: Ctx, db: DB, who: Admin) -> dict[str, Any]:
    """Register a camera worker for one intersection; the answer holds its API key (shown only once)."""
    if body.intersection not in ctx.scenario.intersections:
        raise ApiError(422, f"no intersection {body.intersection!r}")
    return create_camera(ctx, db, body.id, body.intersection, who.name)


@router.post("/cameras/{camera_id}/rotate", response_model=CameraOut,
             responses={404: {"description": "no such camera"}})
def rotate_camera(camera_id: str, ctx: Ctx, db: DB, who: Admin) -> dict[str, Any]:
    """A new API key for the camera (shown once); the old one stops working at once."""
    return accounts.rotate_camera_key(db, camera_id, who.name, ctx.now())


@router.post("/cameras/{camera_id}/revoke", response_model=CameraOut,
             responses={404: {"description": "no such camera"}, 409: {"description": "already revoked"}})
def revoke_camera(camera_id: str, ctx: Ctx, db: DB, who: Admin) -> dict[str, Any]:
    """Revoke the camera's API key at once (``rotate`` issues a new one)."""
    return accounts.revoke_camera_key(db, camera_id, who.name, ctx.now())
