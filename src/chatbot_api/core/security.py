"""Security primitives as pure functions: bcrypt passwords and HS* JWTs (PyJWT)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import bcrypt
import jwt

BCRYPT_COST = 10
BCRYPT_MAX_BYTES = 72

UserType = Literal["guest", "regular"]


def _password_bytes(password: str) -> bytes:
    # bcrypt-ts (the Next.js app) silently uses the first 72 UTF-8 bytes; do the same.
    return password.encode("utf-8")[:BCRYPT_MAX_BYTES]


def hash_password(password: str) -> str:
    """A `$2a$10$…` hash (60 chars), exactly the form bcrypt-ts writes and verifies."""
    salt = bcrypt.gensalt(rounds=BCRYPT_COST, prefix=b"2a")
    return bcrypt.hashpw(_password_bytes(password), salt).decode("ascii")


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(_password_bytes(password), hashed.encode("ascii"))
    except ValueError:
        return False


# Equalises timing for unknown users (contract §4.2): compare against a real hash.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(12))


def hash_token(token: str) -> str:
    """Refresh tokens are stored as their SHA-256, never in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    email: str
    type: UserType
    jti: str
    expires_at: datetime


class InvalidToken(Exception):
    """The token is missing, malformed, expired, tampered or of the wrong kind."""


def create_access_token(
    *,
    user_id: uuid.UUID,
    email: str,
    user_type: UserType,
    secret: str,
    algorithm: str,
    expires_in: timedelta,
    extra: dict[str, Any] | None = None,
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires_at = now + expires_in
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "email": email,
        "type": user_type,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
        "token_use": "access",
    }
    if extra:
        payload.update(extra)
    return jwt.encode(payload, secret, algorithm=algorithm), expires_at


# Access tokens already verified, by (token, secret, algorithm): a client sends the same token
# on every request for its lifetime, and verifying it (PyJWT: base64, JSON, HMAC, claims) costs
# ~0.1 ms. A hit only re-checks expiry; revocation is checked by the caller on every request.
VERIFIED_CACHE_SIZE = 1024
_verified: dict[tuple[str, str, str], TokenClaims] = {}


def decode_access_token(token: str, *, secret: str, algorithm: str) -> TokenClaims:
    """Verify signature (pinned algorithm), `exp`, `sub`, and that it is an access token."""
    key = (token, secret, algorithm)
    claims = _verified.get(key)
    if claims is not None:
        if claims.expires_at.timestamp() > time.time():
            return claims
        del _verified[key]
        raise InvalidToken("Signature has expired")
    claims = _verify_access_token(token, secret=secret, algorithm=algorithm)
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        del _verified[next(iter(_verified))]  # the oldest entry
    _verified[key] = claims
    return claims


def _verify_access_token(token: str, *, secret: str, algorithm: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if payload.get("token_use") != "access":
        raise InvalidToken("not an access token")
    user_type = payload.get("type")
    if user_type not in ("guest", "regular"):
        raise InvalidToken("unknown user type")
    try:
        user_id = uuid.UUID(str(payload["sub"]))
    except ValueError as exc:
        raise InvalidToken("bad subject") from exc
    return TokenClaims(
        user_id=user_id,
        email=str(payload.get("email", "")),
        type=user_type,
        jti=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
    )
