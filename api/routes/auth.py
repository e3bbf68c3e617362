"""Login (OAuth2 password flow) and who-am-I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api import store
from api.db import User
from api.deps import DB, Ctx, CurrentPrincipal
from api.errors import ApiError
from api.schemas import Token
from api.security import issue_token, verify_password

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=Token,
             responses={401: {"description": "wrong user name or password"}, 429: {"description": "too many tries"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Ctx, db: DB) -> dict[str, Any]:
    """Exchange a user name and password for a bearer token (JWT, expires after the configured TTL)."""
    now = ctx.now()
    if not ctx.login_limiter.allow(form.username, now):  # 10 tries, then one per second
        raise ApiError(429, "too many login attempts for this user", {"Retry-After": "1"})
    user = db.scalars(select(User).where(User.name == form.username)).first()
    ok = verify_password(user.password_hash if user else None, form.password)
    store.audit(db, now, form.username[:64], "login" if ok else "login_failed", f"user/{form.username[:64]}")
    db.commit()
    if not ok or user is None:
        raise ApiError(401, "wrong user name or password", {"WWW-Authenticate": "Bearer"})
    ctx.hub.publish({"type": "audit", "action": "login", "target": f"user/{user.name}", "actor": user.name})
    token = issue_token(ctx.secret, user.name, user.role, now, ctx.settings.token_ttl_s)
    return {"access_token": token, "token_type": "bearer", "expires_in": int(ctx.settings.token_ttl_s)}


@router.get("/auth/me")
async def me(who: CurrentPrincipal) -> dict[str, Any]:
    return {"name": who.name, "role": who.role.name if who.role is not None else None, "camera": who.camera}
