"""SQL of the threads API: threads by owner in keyset pages, messages by sequence, claims."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth.models import User
from chatbot_api.chats.models import Chat
from chatbot_api.cloud.models import (
    CloudAttachment,
    CloudFeedback,
    CloudIdentity,
    CloudMessage,
    CloudThread,
)


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def add_all(session: AsyncSession, rows: Sequence[object]) -> None:
    session.add_all(rows)
    await session.flush()


# --- threads -------------------------------------------------------------------------------


async def get_thread(
    session: AsyncSession, user_id: uuid.UUID, thread_id: uuid.UUID
) -> CloudThread | None:
    stmt = select(CloudThread).where(CloudThread.id == thread_id, CloudThread.user_id == user_id)
    return (await session.scalars(stmt)).first()


async def owned_thread_ids(
    session: AsyncSession, user_id: uuid.UUID, thread_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    stmt = select(CloudThread.id).where(
        CloudThread.user_id == user_id, CloudThread.id.in_(thread_ids)
    )
    return set((await session.scalars(stmt)).all())


async def list_threads(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    archived: bool,
    limit: int,
    after: CloudThread | None,
) -> Sequence[CloudThread]:
    """Newest `lastMessageAt` first (id breaks ties); `after` = the previous page's last row."""
    stmt = select(CloudThread).where(
        CloudThread.user_id == user_id, CloudThread.is_archived.is_(archived)
    )
    if after is not None:
        stmt = stmt.where(
            or_(
                CloudThread.last_message_at < after.last_message_at,
                and_(
                    CloudThread.last_message_at == after.last_message_at,
                    CloudThread.id < after.id,
                ),
            )
        )
    stmt = stmt.order_by(CloudThread.last_message_at.desc(), CloudThread.id.desc()).limit(limit)
    return (await session.scalars(stmt)).all()


async def update_thread(
    session: AsyncSession, user_id: uuid.UUID, thread_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    stmt = (
        update(CloudThread)
        .where(CloudThread.id == thread_id, CloudThread.user_id == user_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def delete_thread(session: AsyncSession, user_id: uuid.UUID, thread_id: uuid.UUID) -> bool:
    """Delete the thread; its messages (and their feedback) go with it (ON DELETE CASCADE)."""
    message_ids = select(CloudMessage.id).where(CloudMessage.thread_id == thread_id)
    owned = select(CloudThread.id).where(
        CloudThread.id == thread_id, CloudThread.user_id == user_id
    )
    if (await session.execute(owned)).first() is None:
        return False
    # Explicit child deletes keep this right on databases without enforced cascades.
    await session.execute(delete(CloudFeedback).where(CloudFeedback.message_id.in_(message_ids)))
    await session.execute(delete(CloudMessage).where(CloudMessage.thread_id == thread_id))
    await session.execute(delete(CloudThread).where(CloudThread.id == thread_id))
    return True


async def next_message_seq(
    session: AsyncSession, user_id: uuid.UUID, thread_id: uuid.UUID, now: datetime
) -> int | None:
    """Allocate the thread's next message number and bump its timestamps, atomically (one
    UPDATE … RETURNING, which also locks the row); None when the caller does not own it."""
    stmt = (
        update(CloudThread)
        .where(CloudThread.id == thread_id, CloudThread.user_id == user_id)
        .values(
            message_seq=CloudThread.message_seq + 1,
            last_message_at=now,
            updated_at=now,
        )
        .returning(CloudThread.message_seq)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    return int(row[0]) if row else None


async def move_threads(
    session: AsyncSession, from_user: uuid.UUID, to_user: uuid.UUID, now: datetime
) -> int:
    """Give every thread of `from_user` to `to_user`, with the chats of the same ids (one
    conversation, one owner); how many threads moved."""
    await session.execute(
        update(Chat)
        .where(
            Chat.user_id == from_user,
            Chat.id.in_(select(CloudThread.id).where(CloudThread.user_id == from_user)),
        )
        .values(user_id=to_user)
        .execution_options(synchronize_session=False)
    )
    stmt = (
        update(CloudThread)
        .where(CloudThread.user_id == from_user)
        .values(user_id=to_user, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


# --- messages ------------------------------------------------------------------------------


async def get_message(
    session: AsyncSession, thread_id: uuid.UUID, message_id: uuid.UUID
) -> CloudMessage | None:
    stmt = select(CloudMessage).where(
        CloudMessage.id == message_id, CloudMessage.thread_id == thread_id
    )
    return (await session.scalars(stmt)).first()


async def message_height(
    session: AsyncSession, thread_id: uuid.UUID, message_id: uuid.UUID
) -> int | None:
    stmt = select(CloudMessage.height).where(
        CloudMessage.id == message_id, CloudMessage.thread_id == thread_id
    )
    return (await session.scalars(stmt)).first()


async def message_seq(
    session: AsyncSession, thread_id: uuid.UUID, message_id: uuid.UUID
) -> int | None:
    stmt = select(CloudMessage.seq).where(
        CloudMessage.id == message_id, CloudMessage.thread_id == thread_id
    )
    return (await session.scalars(stmt)).first()


async def list_messages(
    session: AsyncSession,
    thread_id: uuid.UUID,
    *,
    format: str | None,
    limit: int,
    before_seq: int | None,
) -> Sequence[CloudMessage]:
    """Newest first; `before_seq` keeps only rows older than the cursor."""
    stmt = select(CloudMessage).where(CloudMessage.thread_id == thread_id)
    if format is not None:
        stmt = stmt.where(CloudMessage.format == format)
    if before_seq is not None:
        stmt = stmt.where(CloudMessage.seq < before_seq)
    stmt = stmt.order_by(CloudMessage.seq.desc()).limit(limit)
    return (await session.scalars(stmt)).all()


async def update_message_content(
    session: AsyncSession,
    thread_id: uuid.UUID,
    message_id: uuid.UUID,
    content: dict[str, Any],
    now: datetime,
) -> bool:
    stmt = (
        update(CloudMessage)
        .where(CloudMessage.id == message_id, CloudMessage.thread_id == thread_id)
        .values(content=content, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


# --- identities ----------------------------------------------------------------------------


async def identity_user(
    session: AsyncSession, workspace_id: str, external_user_id: str
) -> User | None:
    stmt = (
        select(User)
        .join(CloudIdentity, CloudIdentity.user_id == User.id)
        .where(
            CloudIdentity.workspace_id == workspace_id,
            CloudIdentity.external_user_id == external_user_id,
        )
    )
    return (await session.scalars(stmt)).first()


# --- attachments ---------------------------------------------------------------------------


async def get_attachment(session: AsyncSession, key: str) -> CloudAttachment | None:
    return await session.get(CloudAttachment, key)
