"""Request dependencies: the app context, database sessions, authentication, roles, rate limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.context import AppContext
from api.db import Camera
from api.security import Principal, Role, digest, same_digest, split_api_key

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="camera worker key gwk_ID.SECRET")


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: Ctx) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


DB = Annotated[Session, Depends(get_session)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def current_principal(ctx: Ctx, token: Annotated[str | None, Depends(bearer_scheme)],
                      key: Annotated[str | None, Depends(api_key_scheme)]) -> Principal:
    """The caller, from a bearer token (users) or an ``X-API-Key`` (cameras); 401 if neither is valid.

    Both are checked against the database on every request (a plain function: FastAPI runs it in a
    worker thread), so a revoked session or key, or a disabled user, is refused at once.
    """
    principal = None
    if token:
        principal = ctx.principal_for_token(token)
        if principal is None:
            raise _unauthorized("invalid or expired token")
    elif key:
        principal = camera_for_key(ctx, key)
        if principal is None:
            raise _unauthorized("invalid API key")
    else:
        raise _unauthorized("not authenticated")
    if not ctx.limiter.allow(principal.key, ctx.now()):
        ctx.metrics.inc("rate_limited_total")
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "rate limit exceeded for this credential",
                            headers={"Retry-After": "1"})
    return principal


def camera_for_key(ctx: AppContext, key: str) -> Principal | None:
    """The camera of an API key, looked up in the database (a camera created or a key rotated or revoked
    by the CLI while the server runs counts at once); None for an unknown or revoked key."""
    parts = split_api_key(key)
    if parts is None or len(parts[0]) > 32 or not parts[0].isascii() or not parts[0].isalnum():
        return None
    with ctx.sessions() as db:
        hit = db.execute(select(Camera.id, Camera.intersection, Camera.key_hash, Camera.revoked_at)
                         .where(Camera.key_id == parts[0])).first()
    if hit is None or hit.revoked_at is not None or not hit.key_hash \
            or not same_digest(hit.key_hash, digest(parts[1])):
        return None
    if ctx.live.cameras.get(hit.id) != hit.intersection:
        ctx.live.cameras[hit.id] = hit.intersection
    return Principal(f"camera:{hit.id}", None, camera=hit.id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets users of ``role`` or above through and answers 403 to everyone else."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role is None or principal.role < role:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {role.name} or above")
        return principal

    return check


async def require_camera(principal: CurrentPrincipal) -> Principal:
    if principal.camera is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only camera credentials push counts")
    return principal


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Engineer = Annotated[Principal, Depends(require(Role.engineer))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
CameraCaller = Annotated[Principal, Depends(require_camera)]
