"""Who is calling: `CurrentUser` (required) and `OptionalUser`, from a bearer JWT or, when
AUTH_SECRET is set, the Next.js app's Auth.js session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatbot_api.auth.identity import AuthUser as AuthUser
from chatbot_api.auth.service import AuthService
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import AppError
from chatbot_api.core.ratelimit import client_ip
from chatbot_api.core.security import InvalidToken, decode_access_token
from chatbot_api.db.session import SessionDep

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /api/auth/*")


async def get_settings(request: Request) -> Settings:
    # async, as every dependency here: FastAPI hands a plain `def` one to a worker thread
    # (a thread hop on each request; tests/test_routes.py keeps it so).
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def optional_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AuthUser | None:
    """The caller, or None. A present but invalid bearer token is a 401, never anonymous."""
    if credentials is not None:
        settings = await get_settings(request)  # called, not a sub-dependency: one less
        try:
            claims = decode_access_token(
                credentials.credentials,
                secret=settings.jwt_secret,
                algorithm=settings.jwt_algorithm,
            )
        except InvalidToken as exc:
            raise AppError("Invalid or expired token", code="unauthorized:auth") from exc
        revoked = getattr(request.app.state, "revoked_tokens", None)
        if revoked is not None and await revoked.is_revoked(claims.jti):
            raise AppError("Token has been revoked", code="unauthorized:auth")
        return AuthUser(
            id=claims.user_id,
            email=claims.email,
            type=claims.type,
            expires_at=claims.expires_at,
            token_id=claims.jti,
        )
    cookie_auth = getattr(request.app.state, "cookie_auth", None)
    if cookie_auth is not None:
        user: AuthUser | None = cookie_auth(request)
        return user
    return None


OptionalUser = Annotated[AuthUser | None, Depends(optional_user)]


def require_user(surface: str) -> object:
    """A dependency that answers 401 `unauthorized:<surface>` when nobody is signed in."""

    async def dependency(user: OptionalUser) -> AuthUser:
        return signed_in(user, surface)

    return Depends(dependency)


def signed_in(user: AuthUser | None, surface: str) -> AuthUser:
    if user is None:
        raise AppError(code=f"unauthorized:{surface}")
    return user


CurrentUser = Annotated[AuthUser, require_user("auth")]
ChatUser = Annotated[AuthUser, require_user("chat")]
DocumentUser = Annotated[AuthUser, require_user("document")]
VoteUser = Annotated[AuthUser, require_user("vote")]
SuggestionsUser = Annotated[AuthUser, require_user("suggestions")]


async def get_client_ip(request: Request, settings: SettingsDep) -> str:
    """The caller's IP for throttles (X-Forwarded-For only behind a trusted proxy)."""
    return client_ip(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        trust_proxy_headers=settings.trust_proxy_headers,
    )


ClientIp = Annotated[str, Depends(get_client_ip)]


async def get_auth_service(
    request: Request, session: SessionDep, settings: SettingsDep
) -> AuthService:
    state = request.app.state
    return AuthService(session, settings, state.auth_throttles, state.revoked_tokens)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
