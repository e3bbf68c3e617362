"""Login sessions: every token names one, and every request checks it against the database.

A token is accepted only while its session is open (not revoked, not expired) and its user exists,
is enabled, has the same name and still has the role the token carries. Revoking a session, disabling
or deleting a user, changing a role or a password therefore ends tokens at once, in every server
process and for changes made with the CLI while the server runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from api.db import User, UserSession
from api.security import Principal, Role, decode_token, issue_token, new_session_id

KEEP_EXPIRED_S = 86400.0  # expired sessions stay listed this long, then are deleted at the next login


@dataclass(frozen=True)
class Issued:
    token: str
    sid: str
    expires_at: float


def open_session(db: Session, secret: str, user: User, now_s: float, ttl_s: float, source: str) -> Issued:
    """A new session for ``user`` and its token (the caller commits)."""
    sid = new_session_id()
    token = issue_token(secret, user.name, user.role, sid, now_s, ttl_s)
    db.add(UserSession(id=sid, user_id=user.id, created_at=now_s, expires_at=float(int(now_s + ttl_s)),
                       revoked_at=None, source=source[:64]))
    db.execute(delete(UserSession).where(UserSession.expires_at < now_s - KEEP_EXPIRED_S))
    return Issued(token, sid, float(int(now_s + ttl_s)))


def principal_for_token(db: Session, secret: str, token: str, now_s: float) -> Principal | None:
    """The user a bearer token names while its session and user are valid; otherwise None."""
    claims = decode_token(secret, token, now_s)
    if claims is None:
        return None
    row = db.execute(select(UserSession.expires_at, UserSession.revoked_at, User.name, User.role, User.disabled)
                     .join(User, User.id == UserSession.user_id).where(UserSession.id == claims["sid"])).first()
    if row is None:
        return None
    expires_at, revoked_at, name, role, disabled = row
    if revoked_at is not None or expires_at <= now_s or disabled or name != claims["sub"] or role != claims["role"]:
        return None
    return Principal(name, Role[role], sid=claims["sid"])


def revoke_user_sessions(db: Session, user_id: int, now_s: float, keep: str | None = None) -> int:
    """Revoke every open session of a user (except ``keep``); returns how many (the caller commits)."""
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
                                      UserSession.expires_at > now_s)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    # Session.execute is typed as returning Result; for an UPDATE it is a CursorResult (rowcount)
    return cast("CursorResult[Any]", db.execute(query.values(revoked_at=now_s))).rowcount


def open_sessions(db: Session, now_s: float, user: str | None = None) -> list[dict[str, Any]]:
    """Sessions not revoked and not expired, newest first (of one user when ``user`` is given)."""
    query = (select(UserSession, User.name).join(User, User.id == UserSession.user_id)
             .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now_s)
             .order_by(UserSession.created_at.desc()))
    if user is not None:
        query = query.where(User.name == user)
    return [{"id": s.id, "user": name, "created_at": s.created_at, "expires_at": s.expires_at, "source": s.source}
            for s, name in db.execute(query)]
