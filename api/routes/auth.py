"""Login (OAuth2 password flow), logout, who-am-I and changing one's own password.

Logins are limited per client address (free failures, then exponential back-off) and globally
(``api.limits.LoginGuard``): 429 with ``Retry-After``, never a lock-out of the user an attacker names.
Failed logins for known user names are audited one by one; those for unknown names are aggregated.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api import accounts, store
from api.context import AppContext
from api.db import User
from api.deps import DB, Ctx, CurrentPrincipal, Viewer
from api.errors import ApiError
from api.limits import retry_after
from api.schemas import OwnPasswordIn, Token
from api.security import verify_password
from api.sessions import open_session

router = APIRouter(tags=["auth"])
log = logging.getLogger("greenwave.api")
ANONYMOUS = "anonymous"


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, uvicorn's proxy headers give the client's own)."""
    return request.client.host if request.client else "unknown"


@router.post("/auth/token", response_model=Token,
             responses={401: {"description": "wrong user name or password"},
                        429: {"description": "too many tries from this address, or in all: see Retry-After"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, ctx: Ctx,
          db: DB) -> dict[str, Any]:
    """Exchange a user name and password for a bearer token (JWT, expires after the configured TTL)."""
    now = ctx.now()
    source = client_address(request)
    write_login_summary(ctx)
    wait = ctx.login_guard.admit(source, now)
    if wait > 0:
        ctx.metrics.inc("login_refused_total")
        raise ApiError(429, "too many login attempts; try again later", {"Retry-After": retry_after(wait)})
    name = form.username[:64]
    lookup = len(form.username) <= 64 and "\x00" not in form.username
    user = db.scalars(select(User).where(User.name == name)).first() if lookup else None
    ok = verify_password(user.password_hash if user else None, form.password) and user is not None
    if not ok or user is None or user.disabled:
        if ctx.login_guard.failed(source, now, known_user=user is not None):
            if user is not None:
                store.audit(db, now, ANONYMOUS, "login_failed", f"user/{user.name}",
                            None, {"source": source, **({"disabled": True} if ok else {})})
            else:
                store.audit(db, now, ANONYMOUS, "login_unknown_user", f"source/{source}"[:256], None,
                            {"source": source, "note": "further ones from this address are counted in the "
                                                       "next login_summary"})
            db.commit()
        raise ApiError(401, "wrong user name or password", {"WWW-Authenticate": "Bearer"})
    issued = open_session(db, ctx.secret, user, now, ctx.settings.token_ttl_s, source)
    store.audit(db, now, user.name, "login", f"user/{user.name}", None, {"source": source, "session": issued.sid})
    db.commit()
    ctx.hub.publish({"type": "audit", "action": "login", "target": f"user/{user.name}", "actor": user.name})
    return {"access_token": issued.token, "token_type": "bearer", "expires_in": int(ctx.settings.token_ttl_s)}


@router.post("/auth/logout", status_code=204)
def logout(ctx: Ctx, db: DB, who: Viewer) -> None:
    """End the session of the calling token."""
    if who.sid is not None:
        accounts.revoke_session(db, who.sid, who.name, ctx.now())


@router.put("/auth/password", status_code=204,
            responses={403: {"description": "wrong old password"}, 422: {"description": "weak new password"},
                       429: {"description": "too many tries"}})
def change_password(body: OwnPasswordIn, request: Request, ctx: Ctx, db: DB, who: Viewer) -> None:
    """Change one's own password (the old one is required); the user's other sessions end."""
    now = ctx.now()
    source = client_address(request)
    wait = ctx.login_guard.admit(source, now)
    if wait > 0:
        raise ApiError(429, "too many password attempts; try again later", {"Retry-After": retry_after(wait)})
    if not accounts.change_own_password(db, who.name, body.old_password, body.new_password, now, who.sid):
        ctx.login_guard.failed(source, now, known_user=True)
        raise ApiError(403, "wrong old password")


@router.get("/auth/me")
async def me(who: CurrentPrincipal) -> dict[str, Any]:
    return {"name": who.name, "role": who.role.name if who.role is not None else None, "camera": who.camera}


def write_login_summary(ctx: AppContext, force: bool = False) -> None:
    """Audit the summary of failed and refused logins of the window that ended (all of it when ``force``)."""
    summary = ctx.login_guard.due_summary(ctx.now(), force=force)
    if summary is None:
        return
    with ctx.sessions() as db:
        store.audit(db, ctx.now(), ANONYMOUS, "login_summary", "auth/token", None, summary)
        db.commit()


async def audit_login_summaries(ctx: AppContext) -> None:
    """Write login summaries when their window ends, also when no further login comes."""
    while True:
        await asyncio.sleep(min(60.0, max(1.0, ctx.settings.login_audit_window_s / 5)))
        try:
            await asyncio.to_thread(write_login_summary, ctx)
        except Exception:  # the next round tries again; the error is logged
            log.exception("writing the login summary failed")
