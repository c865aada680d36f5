"""The exact daily message limit: a per-user write lock, then count, in one short transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.chats import repository
from chatbot_api.chats.models import SentMessage
from chatbot_api.core.errors import RateLimited
from chatbot_api.db.types import utcnow

WINDOW = timedelta(hours=24)
# Namespace of our PostgreSQL advisory locks on users (the first int4 of the two-key form).
USER_LOCK_NAMESPACE = 0x43484154  # "CHAT"
_PG_LOCK = select(
    func.pg_advisory_xact_lock(
        literal(USER_LOCK_NAMESPACE, Integer), bindparam("key", type_=Integer)
    )
)
_SQLITE_LOCK = text("BEGIN IMMEDIATE")


def user_lock_key(user_id: uuid.UUID) -> int:
    """The second key of the user's advisory lock (the first is `USER_LOCK_NAMESPACE`)."""
    return int.from_bytes(user_id.bytes[:4], "big", signed=True)


async def lock_user_messages(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise the user's message inserts until this transaction ends, on every worker.

    PostgreSQL: a transaction-scoped advisory lock keyed by the user. SQLite: take the
    database write lock now (`BEGIN IMMEDIATE`), before anything is read, so the count that
    follows cannot go stale. Must be the session's first statement.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_PG_LOCK, {"key": user_lock_key(user_id)})
    else:
        await session.execute(_SQLITE_LOCK)


async def check_daily_limit(
    session: AsyncSession, user_id: uuid.UUID, max_per_day: int, *, now: datetime | None = None
) -> None:
    """429 `rate_limit:chat` when the user already sent `max_per_day` messages in 24 h.

    Call under `lock_user_messages` so concurrent requests cannot all pass.
    """
    since = (now or utcnow()) - WINDOW
    count = await repository.count_user_messages_since(session, user_id, since)
    await enforce_daily_limit(session, user_id, count, max_per_day, since=since, now=now)


async def enforce_daily_limit(
    session: AsyncSession,
    user_id: uuid.UUID,
    sent: int,
    max_per_day: int,
    *,
    since: datetime,
    now: datetime | None = None,
) -> None:
    """429 `rate_limit:chat` when `sent` (the user's messages since `since`, counted under
    `lock_user_messages`) reaches `max_per_day`; Retry-After from the oldest of them."""
    if sent < max_per_day:
        return
    oldest = await _oldest_user_message_since(session, user_id, since)
    retry_after = (oldest + WINDOW - (now or utcnow())).total_seconds() if oldest else 3600
    raise RateLimited(int(retry_after) + 1, code="rate_limit:chat")


async def _oldest_user_message_since(
    session: AsyncSession, user_id: uuid.UUID, since: datetime
) -> datetime | None:
    oldest: datetime | None = await session.scalar(
        select(func.min(SentMessage.created_at)).where(
            SentMessage.user_id == user_id, SentMessage.created_at >= since
        )
    )
    return oldest
