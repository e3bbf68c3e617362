"""Users and cameras (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api import store
from api.db import Camera, User
from api.deps import DB, Admin, Ctx
from api.errors import ApiError
from api.schemas import CameraIn, CameraOut, UserIn, UserOut
from api.security import hash_password, new_api_key

router = APIRouter(tags=["admin"])


def create_user(db: DB, name: str, role: str, password: str, actor: str, now_s: float) -> User:
    """Store a user with an argon2 hash of the password (audited); ``ApiError`` 409 if the name is taken."""
    if db.scalars(select(User).where(User.name == name)).first() is not None:
        raise ApiError(409, f"user {name!r} exists")
    user = User(name=name, role=role, password_hash=hash_password(password), created_at=now_s)
    db.add(user)
    store.audit(db, now_s, actor, "user_create", f"user/{name}", None, {"role": role})
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, f"user {name!r} exists") from None
    return user


@router.get("/users", response_model=list[UserOut])
def list_users(db: DB, _: Admin) -> list[User]:
    return list(db.scalars(select(User).order_by(User.name)))


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "name taken"}})
def post_user(body: UserIn, ctx: Ctx, db: DB, who: Admin) -> User:
    return create_user(db, body.name, body.role, body.password, who.name, ctx.now())


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(db: DB, _: Admin) -> list[dict[str, Any]]:
    return [{"id": c.id, "intersection": c.intersection, "created_at": c.created_at}
            for c in db.scalars(select(Camera).order_by(Camera.id))]


@router.post("/cameras", response_model=CameraOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "id taken"}})
def post_camera(body: CameraIn, ctx: Ctx, db: DB, who: Admin) -> dict[str, Any]:
    """Register a camera worker for one intersection; the answer holds its API key (shown only once)."""
    if body.intersection not in ctx.scenario.intersections:
        raise ApiError(422, f"no intersection {body.intersection!r}")
    return create_camera(ctx, db, body.id, body.intersection, who.name)


def create_camera(ctx: Ctx, db: DB, camera_id: str, iid: str, actor: str) -> dict[str, Any]:
    if db.get(Camera, camera_id) is not None:
        raise ApiError(409, f"camera {camera_id!r} exists")
    key_id, key_hash, key = new_api_key()
    now = ctx.now()
    db.add(Camera(id=camera_id, intersection=iid, key_id=key_id, key_hash=key_hash, created_at=now))
    store.audit(db, now, actor, "camera_create", f"camera/{camera_id}", None, {"intersection": iid})
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, f"camera {camera_id!r} exists") from None
    ctx.camera_keys[key_id] = (camera_id, key_hash)
    ctx.live.cameras[camera_id] = iid
    return {"id": camera_id, "intersection": iid, "created_at": now, "api_key": key}
