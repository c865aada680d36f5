"""HTTP routes of the auth domain: tokens for register/login/guest, refresh, logout, session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from chatbot_api.auth.dependencies import AuthServiceDep, ClientIp, CurrentUser, OptionalUser
from chatbot_api.auth.schemas import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    SessionResponse,
    TokenResponse,
)
from chatbot_api.auth.service import session_of
from chatbot_api.core.schemas import ErrorEnvelope

router = APIRouter(tags=["auth"])


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Invalid input; `cause` names the field",
        401: "Not signed in, or invalid credentials or token",
        409: "An account with this email already exists",
        429: "Too many attempts; see the Retry-After header",
    }
    return {code: {"model": ErrorEnvelope, "description": descriptions[code]} for code in statuses}


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=_errors(400, 409, 429),
    summary="Create an account and sign in",
)
async def register(body: RegisterRequest, service: AuthServiceDep, ip: ClientIp) -> TokenResponse:
    return await service.register(body.email, body.password, client_ip=ip)


@router.post("/login", responses=_errors(400, 401, 429), summary="Sign in with e-mail and password")
async def login(body: LoginRequest, service: AuthServiceDep, ip: ClientIp) -> TokenResponse:
    return await service.login(body.email, body.password, client_ip=ip)


@router.post(
    "/guest",
    status_code=status.HTTP_201_CREATED,
    responses=_errors(429),
    summary="Create a guest account and sign in",
)
async def guest(service: AuthServiceDep, ip: ClientIp) -> TokenResponse:
    return await service.create_guest(client_ip=ip)


@router.post(
    "/refresh",
    responses=_errors(400, 401),
    summary="Trade a refresh token for a new token pair (the old one stops working)",
)
async def refresh(body: RefreshRequest, service: AuthServiceDep) -> TokenResponse:
    return await service.refresh(body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_errors(400, 401),
    summary="Revoke the access token and, if given, its refresh-token family",
)
async def logout(
    user: CurrentUser, service: AuthServiceDep, body: LogoutRequest | None = None
) -> None:
    await service.logout(user, body.refresh_token if body else None)


@router.get(
    "/session",
    responses=_errors(401),
    summary="The signed-in user and the credential's expiry, or null",
)
async def session(user: OptionalUser) -> SessionResponse | None:
    return session_of(user)
