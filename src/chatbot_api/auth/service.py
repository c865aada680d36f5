"""Account rules: register, login, guests, refresh-token rotation, logout, sessions."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth import repository as repo
from chatbot_api.auth.identity import AuthUser, is_guest_email, user_type_for
from chatbot_api.auth.models import User
from chatbot_api.auth.revocation import RevokedTokens
from chatbot_api.auth.schemas import SessionResponse, SessionUser, TokenResponse
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import AppError
from chatbot_api.core.ratelimit import Throttle
from chatbot_api.core.security import (
    DUMMY_PASSWORD_HASH,
    UserType,
    create_access_token,
    hash_password,
    hash_token,
    verify_password,
)
from chatbot_api.db.types import iso_ms, utcnow

GUEST_EMAIL_BATCH = 32


class InvalidCredentials(AppError):
    code = "unauthorized:auth"

    def __init__(self) -> None:
        super().__init__("Invalid credentials")


class EmailTaken(AppError):
    code = "conflict:auth"

    def __init__(self) -> None:
        super().__init__("An account with this email already exists")


class InvalidRefreshToken(AppError):
    code = "unauthorized:auth"

    def __init__(self) -> None:
        super().__init__("Invalid or expired refresh token")


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated token came back: its family is revoked, and that revocation is kept."""

    keeps_changes = True


@dataclass(frozen=True, slots=True)
class AuthThrottles:
    login_per_account: Throttle
    login_per_ip: Throttle
    register_per_ip: Throttle
    guest_per_ip: Throttle


class AuthService:
    """One request's view of accounts; writes go through the request's session (no commit)."""

    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        throttles: AuthThrottles,
        revoked_tokens: RevokedTokens,
    ) -> None:
        self.session = session
        self.settings = settings
        self.throttles = throttles
        self.revoked_tokens = revoked_tokens

    async def register(self, email: str, password: str, *, client_ip: str) -> TokenResponse:
        await self.throttles.register_per_ip.check(client_ip)
        password_hash = await anyio.to_thread.run_sync(hash_password, password)
        # Check-then-insert under a per-e-mail lock: concurrent sign-ups make one account.
        await repo.lock_for_write(self.session, "register", email.lower())
        if await repo.email_taken(self.session, email):
            raise EmailTaken()
        user = await repo.add_user(self.session, email=email, password_hash=password_hash)
        return await self._issue_tokens(user, "regular")

    async def login(self, email: str, password: str, *, client_ip: str) -> TokenResponse:
        await self.throttles.login_per_ip.check(client_ip)
        await self.throttles.login_per_account.check(email.lower())
        # Guests never sign in with a password; case variants of one e-mail are all tried.
        candidates = [] if is_guest_email(email) else await repo.users_by_email(self.session, email)
        with_password = [(user, user.password) for user in candidates if user.password]
        for user, password_hash in with_password:
            if await _verify(password, password_hash):
                return await self._issue_tokens(user, "regular")
        if not with_password:
            # Same cost as a real check, so response times do not reveal unknown accounts.
            await _verify(password, DUMMY_PASSWORD_HASH)
        raise InvalidCredentials()

    async def create_guest(self, *, client_ip: str) -> TokenResponse:
        await self.throttles.guest_per_ip.check(client_ip)
        password_hash = await anyio.to_thread.run_sync(hash_password, str(uuid.uuid4()))
        await repo.lock_for_write(self.session, "guest", "")
        email = await self._free_guest_email(int(time.time() * 1000))
        user = await repo.add_user(self.session, email=email, password_hash=password_hash)
        return await self._issue_tokens(user, "guest")

    async def refresh(self, refresh_token: str) -> TokenResponse:
        now = utcnow()
        token_hash = hash_token(refresh_token)
        claimed = await repo.claim_refresh_token(self.session, token_hash, now)
        if claimed is None:
            row = await repo.get_refresh_token(self.session, token_hash)
            if row is not None and row.used_at is not None and row.revoked_at is None:
                await repo.revoke_family(self.session, row.family_id, now)
                raise RefreshTokenReused()
            raise InvalidRefreshToken()
        user = await repo.get_user(self.session, claimed.user_id)
        if user is None:
            raise InvalidRefreshToken()
        return await self._issue_tokens(user, user_type_for(user.email), claimed.family_id)

    async def logout(self, user: AuthUser, refresh_token: str | None) -> None:
        if refresh_token:
            row = await repo.get_refresh_token(self.session, hash_token(refresh_token))
            if row is not None and row.user_id == user.id:
                await repo.revoke_family(self.session, row.family_id, utcnow())
        if user.token_id and user.expires_at:
            await self.revoked_tokens.revoke(user.token_id, user.expires_at)

    async def _free_guest_email(self, now_ms: int) -> str:
        """`guest-<epoch ms>`; when that millisecond is taken, the next free one."""
        start = now_ms
        while True:
            candidates = [f"guest-{start + offset}" for offset in range(GUEST_EMAIL_BATCH)]
            taken = await repo.existing_emails(self.session, candidates)
            for email in candidates:
                if email not in taken:
                    return email
            start += GUEST_EMAIL_BATCH

    async def _issue_tokens(
        self, user: User, user_type: UserType, family_id: uuid.UUID | None = None
    ) -> TokenResponse:
        settings = self.settings
        lifetime = timedelta(minutes=settings.jwt_access_token_expire_minutes)
        access_token, _ = create_access_token(
            user_id=user.id,
            email=user.email,
            user_type=user_type,
            secret=settings.jwt_secret,
            algorithm=settings.jwt_algorithm,
            expires_in=lifetime,
        )
        refresh_token = secrets.token_urlsafe(32)
        await repo.add_refresh_token(
            self.session,
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_token(refresh_token),
            expires_at=utcnow() + timedelta(days=settings.jwt_refresh_token_expire_days),
        )
        return TokenResponse(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=int(lifetime.total_seconds()),
            user=SessionUser(id=user.id, email=user.email, type=user_type),
        )


def session_of(user: AuthUser | None) -> SessionResponse | None:
    """The Auth.js-style session of the caller (`null` when nobody is signed in)."""
    if user is None:
        return None
    return SessionResponse(
        user=SessionUser(id=user.id, email=user.email, type=user.type),
        expires=iso_ms(user.expires_at or utcnow()),
    )


async def _verify(password: str, password_hash: str) -> bool:
    """bcrypt is CPU-bound: compare in a worker thread so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(verify_password, password, password_hash)
