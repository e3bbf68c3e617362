"""Credentials: argon2 password hashes, HS256 bearer tokens (JWT), camera API keys.

A token names a session (``sid``), which the server checks on every request against the ``sessions``
and ``users`` tables (``api.sessions``): a valid signature alone is never enough. No token lives longer
than ``MAX_TOKEN_TTL_S``.

Camera keys are 256-bit random secrets, so a fast SHA-256 digest is enough to store them (a slow
password hash protects guessable secrets; it would only cost CPU on every counts push).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import IntEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.settings import MAX_TOKEN_TTL_S


class Role(IntEnum):
    """Roles in increasing power; each includes the rights of those below it."""

    viewer = 0
    operator = 1
    engineer = 2
    admin = 3


ROLE_NAMES = tuple(r.name for r in Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (with a role) or a camera (which may only push its own counts)."""

    name: str
    role: Role | None
    camera: str | None = None
    sid: str | None = None  # the session of a user's token

    @property
    def key(self) -> str:
        return f"camera:{self.camera}" if self.camera else f"user:{self.name}"


_HASHER = PasswordHasher()
# verified against when a user does not exist, so a login takes as long either way
_DUMMY_HASH = _HASHER.hash("not a password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_session_id() -> str:
    return secrets.token_hex(16)


def issue_token(secret: str, user: str, role: str, sid: str, now_s: float, ttl_s: float) -> str:
    """A signed token for session ``sid``; ``ttl_s`` is capped at ``MAX_TOKEN_TTL_S``."""
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise ValueError(f"token lifetime must be in (0, {MAX_TOKEN_TTL_S:g}] s")
    return jwt.encode({"sub": user, "role": role, "sid": sid, "iat": int(now_s), "exp": int(now_s + ttl_s)},
                      secret, algorithm="HS256")


def decode_token(secret: str, token: str, now_s: float) -> dict | None:
    """The token's claims, or None when it is malformed, forged, expired (at ``now_s``), lives longer than
    ``MAX_TOKEN_TTL_S`` or names no session. The session itself is checked by ``api.sessions``."""
    try:
        # expiry is checked below against the app clock (injectable), not PyJWT's wall clock
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or exp <= now_s or exp - iat > MAX_TOKEN_TTL_S:
        return None
    if claims.get("role") not in ROLE_NAMES or not isinstance(claims.get("sub"), str) \
            or not isinstance(claims.get("sid"), str):
        return None
    return claims


def new_api_key() -> tuple[str, str, str]:
    """``(key_id, secret_hash, full_key)``; the full key ``gwk_<key_id>.<secret>`` is shown once."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, digest(secret), f"gwk_{key_id}.{secret}"


def split_api_key(key: str) -> tuple[str, str] | None:
    if not key.startswith("gwk_") or "." not in key:
        return None
    key_id, _, secret = key[4:].partition(".")
    return (key_id, secret) if key_id and secret else None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
