"""Cloud tokens: API-key servers mint user tokens (workspace users mapped to ours), anonymous
(guest) identities and their refresh, all as our own access JWTs (numeric `exp`)."""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth.models import User
from chatbot_api.auth.schemas import TokenResponse
from chatbot_api.auth.service import AuthService
from chatbot_api.cloud import repository as repo
from chatbot_api.cloud.errors import CloudBadRequest, CloudForbidden, CloudUnauthorized
from chatbot_api.cloud.models import CloudIdentity
from chatbot_api.core.config import Settings
from chatbot_api.core.security import create_access_token
from chatbot_api.db.types import iso_ms, utcnow

PLACEHOLDER_DOMAIN = "assistant-cloud.invalid"
WORKSPACE_MAX_LENGTH = 128
EXTERNAL_USER_MAX_LENGTH = 255
_DUMMY_KEY = "x" * 32


class MintedToken(BaseModel):
    token: str


class RefreshTokenOut(BaseModel):
    token: str
    expires_at: str


class AnonymousTokens(BaseModel):
    access_token: str
    refresh_token: RefreshTokenOut


def key_matches(presented: str, configured: tuple[str, ...]) -> bool:
    """Constant-time comparison against every configured key (a dummy one when none)."""
    candidates = configured or (_DUMMY_KEY,)
    results = [hmac.compare_digest(presented.encode(), key.encode()) for key in candidates]
    return bool(configured) and any(results)


class TokenService:
    """Token rules for `/v1/auth/*`; user rows go through the request's session (no commit)."""

    def __init__(self, session: AsyncSession, settings: Settings, auth: AuthService) -> None:
        self.session = session
        self.settings = settings
        self.auth = auth

    async def mint(self, api_key: str | None, workspace_id: str, external_user_id: str) -> str:
        workspace_id, external_user_id = workspace_id.strip(), external_user_id.strip()
        if not workspace_id or len(workspace_id) > WORKSPACE_MAX_LENGTH:
            raise CloudBadRequest(f"Aui-Workspace-Id: 1 to {WORKSPACE_MAX_LENGTH} characters")
        if not external_user_id or len(external_user_id) > EXTERNAL_USER_MAX_LENGTH:
            raise CloudBadRequest(f"Aui-User-Id: 1 to {EXTERNAL_USER_MAX_LENGTH} characters")
        configured = self.settings.cloud_api_keys.get(workspace_id, ())
        if not api_key or not key_matches(api_key, configured):
            raise CloudUnauthorized("Invalid API key for this workspace")
        user = await self._user_for(workspace_id, external_user_id)
        token, _ = create_access_token(
            user_id=user.id,
            email=user.email,
            user_type="regular",
            secret=self.settings.jwt_secret,
            algorithm=self.settings.jwt_algorithm,
            expires_in=timedelta(minutes=self.settings.assistant_cloud_token_expire_minutes),
        )
        return token

    async def _user_for(self, workspace_id: str, external_user_id: str) -> User:
        """Our user behind (workspace, external id), created on first sight (race-safe)."""
        user = await repo.identity_user(self.session, workspace_id, external_user_id)
        if user is not None:
            return user
        user_id = uuid.uuid4()
        user = User(id=user_id, email=f"cloud-{user_id.hex}@{PLACEHOLDER_DOMAIN}", password=None)
        identity = CloudIdentity(
            workspace_id=workspace_id,
            external_user_id=external_user_id,
            user_id=user_id,
            created_at=utcnow(),
        )
        try:
            async with self.session.begin_nested():
                await repo.add_all(self.session, [user])
                await repo.add_all(self.session, [identity])
        except IntegrityError:  # a concurrent first request created it
            existing = await repo.identity_user(self.session, workspace_id, external_user_id)
            if existing is None:
                raise
            return existing
        return user

    async def anonymous(self, client_ip: str) -> AnonymousTokens:
        if not self.settings.assistant_cloud_anonymous:
            raise CloudForbidden("Anonymous access is disabled on this server")
        return self._anonymous_tokens(await self.auth.create_guest(client_ip=client_ip))

    async def refresh(self, refresh_token: str) -> AnonymousTokens:
        return self._anonymous_tokens(await self.auth.refresh(refresh_token))

    def _anonymous_tokens(self, tokens: TokenResponse) -> AnonymousTokens:
        # Issued just now with this lifetime, so this is its stored expiry (to the ms).
        expires_at = utcnow() + timedelta(days=self.settings.jwt_refresh_token_expire_days)
        return AnonymousTokens(
            access_token=tokens.access_token,
            refresh_token=RefreshTokenOut(
                token=tokens.refresh_token, expires_at=iso_ms(expires_at)
            ),
        )
