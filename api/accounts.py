"""Account operations shared by the admin API and the CLI: users, passwords, sessions, camera keys.

Every change is audited in the same transaction. Errors are ``ApiError`` (the API answers them as
they are; the CLI prints one line and exits 2). No change may leave the service without an enabled
admin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import store
from api.db import Camera, User, UserSession
from api.errors import ApiError
from api.password_policy import password_problem, user_name_problem
from api.security import ROLE_NAMES, hash_password, new_api_key, verify_password
from api.sessions import revoke_user_sessions


def check_new_user(name: str, role: str, password: str) -> None:
    """``ApiError`` 422 when the name, role or password is not acceptable (checked before any storage)."""
    problem = user_name_problem(name)
    if problem is None and role not in ROLE_NAMES:
        problem = f"role {role!r}: one of {', '.join(ROLE_NAMES)}"
    problem = problem or password_problem(password, name)
    if problem:
        raise ApiError(422, problem)


def check_password(password: str, name: str) -> None:
    problem = password_problem(password, name)
    if problem:
        raise ApiError(422, problem)


def user_json(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "created_at": user.created_at, "disabled": bool(user.disabled)}


def get_user(db: Session, name: str) -> User:
    user = db.scalars(select(User).where(User.name == name)).first() if _storable(name, 64) else None
    if user is None:
        raise ApiError(404, f"no user {name!r}")
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.name)))


def create_user(db: Session, name: str, role: str, password: str, actor: str, now_s: float) -> User:
    """Store a user with an argon2 hash of the password (audited); 422 for a bad name, role or a weak
    password, 409 if the name is taken."""
    check_new_user(name, role, password)
    if db.scalars(select(User).where(User.name == name)).first() is not None:
        raise ApiError(409, f"user {name!r} exists")
    user = User(name=name, role=role, password_hash=hash_password(password), created_at=now_s, disabled=False)
    db.add(user)
    store.audit(db, now_s, actor, "user_create", f"user/{name}", None, {"role": role})
    _commit(db, f"user {name!r} exists")
    return user


def update_user(db: Session, name: str, actor: str, now_s: float, role: str | None = None,
                disabled: bool | None = None) -> User:
    """Change a user's role and/or disable or enable it; its open sessions end (audited)."""
    user = get_user(db, name)
    if role is not None and role not in ROLE_NAMES:
        raise ApiError(422, f"role {role!r}: one of {', '.join(ROLE_NAMES)}")
    before, was_admin = user_json(user), _is_enabled_admin(user)
    if role is not None:
        user.role = role
    if disabled is not None:
        user.disabled = disabled
    _keep_an_admin(db, user, was_admin)
    after = user_json(user)
    if after != before:
        ended = revoke_user_sessions(db, user.id, now_s)
        action = "user_role" if before["role"] != after["role"] else \
            "user_disable" if after["disabled"] else "user_enable"
        store.audit(db, now_s, actor, action, f"user/{name}", _public(before),
                    {**_public(after), "sessions_ended": ended})
    db.commit()
    return user


def delete_user(db: Session, name: str, actor: str, now_s: float) -> None:
    """Delete a user and its sessions (audited); the audit log keeps its name."""
    user = get_user(db, name)
    _keep_an_admin(db, user, _is_enabled_admin(user), deleting=True)
    ended = revoke_user_sessions(db, user.id, now_s)
    db.execute(delete(UserSession).where(UserSession.user_id == user.id)
               .execution_options(synchronize_session=False))  # a plain DELETE, as on the table
    db.delete(user)
    store.audit(db, now_s, actor, "user_delete", f"user/{name}", {"role": user.role},
                {"sessions_ended": ended})
    db.commit()


def reset_password(db: Session, name: str, password: str, actor: str, now_s: float) -> None:
    """Set a user's password (an admin's reset); every session of the user ends (audited)."""
    user = get_user(db, name)
    check_password(password, name)
    user.password_hash = hash_password(password)
    ended = revoke_user_sessions(db, user.id, now_s)
    store.audit(db, now_s, actor, "password_reset", f"user/{name}", None, {"sessions_ended": ended})
    db.commit()


def change_own_password(db: Session, name: str, old: str, new: str, now_s: float, keep_sid: str | None) -> bool:
    """Change one's own password given the old one; the other sessions end (audited). False when ``old``
    is wrong (nothing changed, the failure audited)."""
    user = get_user(db, name)
    if not verify_password(user.password_hash, old):
        store.audit(db, now_s, name, "password_change_failed", f"user/{name}")
        db.commit()
        return False
    check_password(new, name)
    if verify_password(user.password_hash, new):
        raise ApiError(422, "the new password must differ from the old one")
    user.password_hash = hash_password(new)
    ended = revoke_user_sessions(db, user.id, now_s, keep=keep_sid)
    store.audit(db, now_s, name, "password_change", f"user/{name}", None, {"sessions_ended": ended})
    db.commit()
    return True


def revoke_session(db: Session, sid: str, actor: str, now_s: float) -> dict[str, Any]:
    """End one session (audited); 404 when there is no such open session."""
    row = db.execute(select(UserSession, User.name).join(User, User.id == UserSession.user_id)
                     .where(UserSession.id == sid)).first() if _storable(sid, 32) else None
    if row is None or row[0].revoked_at is not None or row[0].expires_at <= now_s:
        raise ApiError(404, f"no open session {sid[:40]!r}")
    session, name = row
    session.revoked_at = now_s
    store.audit(db, now_s, actor, "session_revoke", f"user/{name}/session/{sid}")
    db.commit()
    return {"id": sid, "user": name, "revoked_at": now_s}


def revoke_sessions_of(db: Session, name: str, actor: str, now_s: float) -> int:
    user = get_user(db, name)
    ended = revoke_user_sessions(db, user.id, now_s)
    store.audit(db, now_s, actor, "session_revoke", f"user/{name}", None, {"sessions_ended": ended})
    db.commit()
    return ended


# --- cameras ---------------------------------------------------------------------------------------

def camera_json(camera: Camera) -> dict[str, Any]:
    return {"id": camera.id, "intersection": camera.intersection, "created_at": camera.created_at,
            "key_id": camera.key_id, "revoked": camera.revoked_at is not None, "revoked_at": camera.revoked_at}


def list_cameras(db: Session) -> list[Camera]:
    return list(db.scalars(select(Camera).order_by(Camera.id)))


def create_camera(db: Session, camera_id: str, iid: str, actor: str, now_s: float) -> dict[str, Any]:
    """Register a camera; the answer holds its API key (shown only once). 409 if the id is taken."""
    if db.get(Camera, camera_id) is not None:
        raise ApiError(409, f"camera {camera_id!r} exists")
    key_id, key_hash, key = new_api_key()
    db.add(Camera(id=camera_id, intersection=iid, key_id=key_id, key_hash=key_hash, created_at=now_s,
                  revoked_at=None))
    store.audit(db, now_s, actor, "camera_create", f"camera/{camera_id}", None, {"intersection": iid})
    _commit(db, f"camera {camera_id!r} exists")
    return {"id": camera_id, "intersection": iid, "created_at": now_s, "api_key": key}


def rotate_camera_key(db: Session, camera_id: str, actor: str, now_s: float) -> dict[str, Any]:
    """A new API key for a camera (shown once); the old key stops working at once (audited)."""
    camera = _camera(db, camera_id)
    old_key_id = camera.key_id
    camera.key_id, camera.key_hash, key = new_api_key()
    camera.revoked_at = None
    store.audit(db, now_s, actor, "camera_rotate", f"camera/{camera_id}", {"key_id": old_key_id},
                {"key_id": camera.key_id})
    _commit(db, "key id collision, try again")
    return {**camera_json(camera), "api_key": key}


def revoke_camera_key(db: Session, camera_id: str, actor: str, now_s: float) -> dict[str, Any]:
    """Revoke a camera's API key at once (audited); ``rotate`` gives it a new one."""
    camera = _camera(db, camera_id)
    if camera.revoked_at is not None:
        raise ApiError(409, f"the key of camera {camera_id!r} is already revoked")
    camera.revoked_at = now_s
    camera.key_hash = ""  # matches no digest
    store.audit(db, now_s, actor, "camera_revoke", f"camera/{camera_id}", {"key_id": camera.key_id}, None)
    db.commit()
    return camera_json(camera)


def _camera(db: Session, camera_id: str) -> Camera:
    camera = db.get(Camera, camera_id) if _storable(camera_id, 64) else None
    if camera is None:
        raise ApiError(404, f"no camera {camera_id!r}")
    return camera


def _is_enabled_admin(user: User) -> bool:
    return user.role == "admin" and not user.disabled


def _keep_an_admin(db: Session, user: User, was_enabled_admin: bool, deleting: bool = False) -> None:
    """409 (nothing changed) when the change of ``user`` leaves no enabled admin."""
    if not was_enabled_admin or (_is_enabled_admin(user) and not deleting):
        return
    others = db.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.disabled.is_(False), User.id != user.id))
    if not others:
        db.rollback()
        raise ApiError(409, f"refused: {user.name!r} is the last enabled admin")


def _storable(text: str, max_chars: int) -> bool:
    """Whether ``text`` can be looked up at all (PostgreSQL refuses NUL characters in a query)."""
    return len(text) <= max_chars and "\x00" not in text


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {"role": user["role"], "disabled": user["disabled"]}


def _commit(db: Session, conflict: str) -> None:
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, conflict) from None


