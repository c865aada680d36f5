"""SQL of the auth domain: users by e-mail, write locks, refresh-token rows."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth.models import RefreshToken, User


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _advisory_key(namespace: str, value: str) -> int:
    digest = hashlib.sha256(f"{namespace}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_for_write(session: AsyncSession, namespace: str, value: str) -> None:
    """Serialise check-then-insert on (namespace, value) until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the database write lock now
    (a no-op UPDATE), so the check that follows sees every committed writer.
    """
    if _is_postgresql(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": _advisory_key(namespace, value)},
        )
    else:
        await session.execute(text('UPDATE "User" SET id = id WHERE 1 = 0'))


async def email_taken(session: AsyncSession, email: str) -> bool:
    """Whether an account uses this e-mail, compared case-insensitively."""
    stmt = select(User.id).where(func.lower(User.email) == email.lower()).limit(1)
    return (await session.execute(stmt)).first() is not None


async def users_by_email(session: AsyncSession, email: str, *, limit: int = 5) -> Sequence[User]:
    """Accounts matching the e-mail case-insensitively, the exact spelling first."""
    exact_first = case((User.email == email, 0), else_=1)
    stmt = (
        select(User)
        .where(func.lower(User.email) == email.lower())
        .order_by(exact_first, User.email)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def existing_emails(session: AsyncSession, emails: Sequence[str]) -> set[str]:
    stmt = select(User.email).where(User.email.in_(emails))
    return set((await session.scalars(stmt)).all())


async def add_user(session: AsyncSession, *, email: str, password_hash: str) -> User:
    user = User(id=uuid.uuid4(), email=email, password=password_hash)
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def add_refresh_token(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
) -> None:
    session.add(
        RefreshToken(
            id=uuid.uuid4(),
            user_id=user_id,
            family_id=family_id,
            token_hash=token_hash,
            expires_at=expires_at,
        )
    )
    await session.flush()


@dataclass(frozen=True, slots=True)
class ClaimedToken:
    user_id: uuid.UUID
    family_id: uuid.UUID


async def claim_refresh_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> ClaimedToken | None:
    """Mark a live token used, atomically (one UPDATE … RETURNING): only one caller wins."""
    stmt = (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken.user_id, RefreshToken.family_id)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    return ClaimedToken(user_id=row.user_id, family_id=row.family_id) if row else None


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.scalars(stmt)).first()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(stmt)
