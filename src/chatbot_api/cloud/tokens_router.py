"""HTTP routes of `/v1/auth/tokens`: API-key minting, anonymous identities, refresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatbot_api.auth.dependencies import AuthServiceDep, ClientIp, SettingsDep
from chatbot_api.auth.schemas import RefreshRequest
from chatbot_api.cloud.dependencies import errors
from chatbot_api.cloud.tokens import AnonymousTokens, MintedToken, TokenService
from chatbot_api.db.session import SessionDep

router = APIRouter(prefix="/auth/tokens", tags=["assistant cloud: tokens"])

api_key_scheme = HTTPBearer(auto_error=False, description="A workspace API key")


async def get_token_service(
    session: SessionDep, settings: SettingsDep, auth: AuthServiceDep
) -> TokenService:
    return TokenService(session, settings, auth)


TokenServiceDep = Annotated[TokenService, Depends(get_token_service)]


@router.post(
    "",
    responses=errors(400, 401),
    summary="Mint a user token with a workspace API key (server side)",
)
async def mint_token(
    service: TokenServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)],
    aui_workspace_id: Annotated[str, Header(max_length=256)],
    aui_user_id: Annotated[str, Header(max_length=512)],
) -> MintedToken:
    api_key = credentials.credentials if credentials else None
    return MintedToken(token=await service.mint(api_key, aui_workspace_id, aui_user_id))


@router.post(
    "/anonymous",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 429),
    summary="Create an anonymous (guest) identity",
)
async def anonymous_token(service: TokenServiceDep, ip: ClientIp) -> AnonymousTokens:
    return await service.anonymous(ip)


@router.post(
    "/refresh",
    responses=errors(400, 401),
    summary="Trade a refresh token for a new access token and refresh token",
)
async def refresh_token(body: RefreshRequest, service: TokenServiceDep) -> AnonymousTokens:
    return await service.refresh(body.refresh_token)
