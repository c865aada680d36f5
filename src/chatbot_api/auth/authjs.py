"""Dual auth: read the Next.js app's Auth.js session cookie (JWE keyed by AUTH_SECRET)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from starlette.requests import Request

from chatbot_api.auth.identity import AuthUser, user_type_for

log = structlog.get_logger("chatbot_api.auth")

# The production build's name first (it is what a deployed app sets), then the plain one.
SESSION_COOKIE_NAMES = ("__Secure-authjs.session-token", "authjs.session-token")
KEY_LENGTHS = {"A256CBC-HS512": 64, "A256GCM": 32}
CLOCK_TOLERANCE_SECONDS = 15
MAX_CHUNKS = 16


def derive_key(secret: str, cookie_name: str, enc: str) -> bytes:
    """Auth.js's key: HKDF-SHA256(AUTH_SECRET, salt=cookie name, info=…), 64 or 32 bytes."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_LENGTHS[enc],
        salt=cookie_name.encode(),
        info=f"Auth.js Generated Encryption Key ({cookie_name})".encode(),
    ).derive(secret.encode())


def read_cookie(cookies: Mapping[str, str], name: str) -> str | None:
    """The cookie's value, joined from `<name>.0`, `<name>.1`, … when Auth.js chunked it."""
    value = cookies.get(name)
    if value:
        return value
    chunks = []
    for index in range(MAX_CHUNKS):
        chunk = cookies.get(f"{name}.{index}")
        if not chunk:
            break
        chunks.append(chunk)
    return "".join(chunks) or None


class AuthjsCookieReader:
    """`cookie_auth(request)`: the AuthUser of a valid Auth.js session cookie, else None.

    Invalid, foreign-keyed or expired cookies are treated as absent (anonymous), never an error.
    """

    def __init__(self, secret: str) -> None:
        self._keys = {
            (name, enc): OctKey.import_key(derive_key(secret, name, enc))
            for name in SESSION_COOKIE_NAMES
            for enc in KEY_LENGTHS
        }

    def __call__(self, request: Request) -> AuthUser | None:
        for name in SESSION_COOKIE_NAMES:
            value = read_cookie(request.cookies, name)
            if value:
                user = self.decode(value, name)
                if user is not None:
                    return user
        return None

    def decode(self, value: str, cookie_name: str) -> AuthUser | None:
        claims = self._decrypt(value, cookie_name)
        if claims is None:
            return None
        return _user_from_claims(claims)

    def _decrypt(self, value: str, cookie_name: str) -> dict[str, Any] | None:
        enc = _header_enc(value)
        key = self._keys.get((cookie_name, enc)) if enc else None
        if key is None or enc is None:
            return None
        try:
            result = jwe.decrypt_compact(value, key, algorithms=["dir", enc])
            claims = orjson.loads(result.plaintext or b"")
        except (JoseError, ValueError, TypeError) as exc:
            log.debug("auth.js cookie rejected", cookie=cookie_name, reason=type(exc).__name__)
            return None
        return claims if isinstance(claims, dict) else None


def _header_enc(value: str) -> str | None:
    header_b64 = value.split(".", 1)[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "dir":
        return None
    enc = header.get("enc")
    return enc if isinstance(enc, str) and enc in KEY_LENGTHS else None


def _user_from_claims(claims: dict[str, Any]) -> AuthUser | None:
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    if exp + CLOCK_TOLERANCE_SECONDS < time.time():
        return None
    raw_id = claims.get("id") or claims.get("sub")
    email = claims.get("email")
    if not isinstance(raw_id, str) or not isinstance(email, str):
        return None
    try:
        user_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    user_type = claims.get("type")
    if user_type not in ("guest", "regular"):
        user_type = user_type_for(email)
    return AuthUser(
        id=user_id,
        email=email,
        type=user_type,
        expires_at=datetime.fromtimestamp(exp, UTC),
    )
