"""Every SQL statement of the chats domain: chats, messages, votes, streams, legacy rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    cast,
    delete,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.chats.models import (
    Chat,
    LegacyMessage,
    LegacyVote,
    Message,
    Stream,
    Vote,
)
from chatbot_api.db.types import iso_ms_text, uuid_text

# Keep IN-lists well below the bind-parameter limits of asyncpg and SQLite.
ID_CHUNK = 500


# --- chats ---------------------------------------------------------------------------------


async def get_chat(session: AsyncSession, chat_id: uuid.UUID, *, lock: bool = False) -> Chat | None:
    """The chat, or None. `lock` takes a row lock (PostgreSQL) until the transaction ends."""
    statement = select(Chat).where(Chat.id == chat_id)
    if lock:
        statement = statement.with_for_update()
    chat: Chat | None = await session.scalar(statement)
    return chat


async def user_chat_exists(session: AsyncSession, user_id: uuid.UUID, chat_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Chat.id).where(Chat.id == chat_id, Chat.user_id == user_id))
    return found is not None


async def list_user_chats(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int,
    cursor_id: uuid.UUID | None = None,
    direction: Literal["older", "newer"] = "older",
) -> tuple[list[Chat], bool]:
    """One page of the user's chats, newest first, keyset-paginated on (createdAt, id), in
    one statement.

    `older`: the chats just before the cursor (or the newest ones without a cursor);
    `newer`: the chats just after the cursor. Returns (chats, has_more in that direction).
    The cursor is looked up among the user's chats only: a cursor that is not one of them
    gives an empty page (tell it from a real empty page with `user_chat_exists`).
    """
    statement: Select[Chat] = select(Chat).where(Chat.user_id == user_id)
    newer = direction == "newer"
    if cursor_id is not None:
        statement = statement.where(_beyond_cursor(user_id, cursor_id, newer=newer))
    if newer:
        statement = statement.order_by(Chat.created_at.asc(), Chat.id.asc())
    else:
        statement = statement.order_by(Chat.created_at.desc(), Chat.id.desc())
    rows = list((await session.scalars(statement.limit(limit + 1))).all())
    has_more = len(rows) > limit
    page = rows[:limit]
    if newer:
        page.reverse()
    return page, has_more


def _beyond_cursor(user_id: uuid.UUID, cursor_id: uuid.UUID, *, newer: bool) -> ColumnElement[bool]:
    """(createdAt, id) beyond the cursor chat's, as one row comparison.

    The cursor's timestamp is read in SQL (a one-row InitPlan on PostgreSQL), so it compares
    at the stored precision; it is NULL when the cursor is not one of the user's chats, and
    then no row matches. PostgreSQL turns the row comparison into an index bound on
    `Chat_userId_createdAt_idx` (`createdAt <= cursor`), so a deep page is a short range scan
    like the first page, not a filter over every newer chat.
    """
    cursor_at = (
        select(Chat.created_at)
        .where(Chat.id == cursor_id, Chat.user_id == user_id)
        .scalar_subquery()
    )
    key = tuple_(Chat.created_at, Chat.id)
    cursor = tuple_(cursor_at, literal(cursor_id, Chat.id.type))
    return key > cursor if newer else key < cursor


async def set_visibility(session: AsyncSession, chat: Chat, visibility: str) -> Chat:
    chat.visibility = visibility
    await session.flush()
    return chat


async def set_title(session: AsyncSession, chat_id: uuid.UUID, title: str) -> None:
    await session.execute(update(Chat).where(Chat.id == chat_id).values(title=title))


async def delete_chat(session: AsyncSession, chat_id: uuid.UUID) -> None:
    """Delete a chat with its votes, messages, streams and legacy rows (no FK cascades)."""
    await _delete_chat_rows(session, [chat_id])


async def lock_user_chat_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the user's chats, row-locked (PostgreSQL) so none changes under a delete."""
    result = await session.scalars(select(Chat.id).where(Chat.user_id == user_id).with_for_update())
    return list(result.all())


async def delete_chats(session: AsyncSession, chat_ids: Sequence[uuid.UUID]) -> int:
    """Delete these chats with everything that references them; returns how many went."""
    deleted = 0
    for start in range(0, len(chat_ids), ID_CHUNK):
        deleted += await _delete_chat_rows(session, chat_ids[start : start + ID_CHUNK])
    return deleted


async def _delete_chat_rows(session: AsyncSession, chat_ids: Sequence[uuid.UUID]) -> int:
    ids = list(chat_ids)
    messages = select(Message.id).where(Message.chat_id.in_(ids))
    legacy_messages = select(LegacyMessage.id).where(LegacyMessage.chat_id.in_(ids))
    # Votes may point at these messages from another chat's id (upstream bug 16): match both.
    await session.execute(
        delete(Vote).where(or_(Vote.chat_id.in_(ids), Vote.message_id.in_(messages)))
    )
    await session.execute(delete(Message).where(Message.chat_id.in_(ids)))
    await session.execute(delete(Stream).where(Stream.chat_id.in_(ids)))
    await session.execute(
        delete(LegacyVote).where(
            or_(LegacyVote.chat_id.in_(ids), LegacyVote.message_id.in_(legacy_messages))
        )
    )
    await session.execute(delete(LegacyMessage).where(LegacyMessage.chat_id.in_(ids)))
    gone = await session.scalars(delete(Chat).where(Chat.id.in_(ids)).returning(Chat.id))
    return len(gone.all())


# --- messages ------------------------------------------------------------------------------


MessageText = Row[str, str, str, str, str]
"""(id, role, parts JSON, attachments JSON, createdAt as `iso_ms`) — a message read for
display, every value as text: the JSON columns as stored, id and timestamp formatted by the
database. A Core row: it unpacks and indexes like a tuple."""


async def get_message_texts(session: AsyncSession, chat_id: uuid.UUID) -> Sequence[MessageText]:
    """The chat's messages as text rows, oldest first: the read path of large chats, where
    decoding the stored JSON only to encode it again, and building UUID and datetime objects,
    would cost far more than the query. Runs on the session's connection as a Core statement
    (no ORM row handling)."""
    connection = await session.connection()
    result = await connection.execute(
        select(
            uuid_text(Message.id),
            Message.role,
            cast(Message.parts, Text),
            cast(Message.attachments, Text),
            iso_ms_text(Message.created_at),
        )
        .where(Message.chat_id == chat_id)
        .order_by(Message.created_at.asc(), Message.id.asc())
    )
    return result.all()


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> Message | None:
    message: Message | None = await session.get(Message, message_id)
    return message


async def chat_message_exists(
    session: AsyncSession, chat_id: uuid.UUID, message_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(Message.id).where(Message.id == message_id, Message.chat_id == chat_id)
    )
    return found is not None


async def update_message_parts(
    session: AsyncSession, message_id: uuid.UUID, parts: list[dict[str, Any]]
) -> None:
    await session.execute(update(Message).where(Message.id == message_id).values(parts=parts))


async def delete_messages_from(
    session: AsyncSession, chat_id: uuid.UUID, message_id: uuid.UUID
) -> int:
    """Delete that message of the chat and every later one (createdAt >= its createdAt), votes
    first; their usage rows go by FK cascade. Returns how many messages went."""
    since = select(Message.created_at).where(Message.id == message_id).scalar_subquery()
    doomed = select(Message.id).where(Message.chat_id == chat_id, Message.created_at >= since)
    await session.execute(delete(Vote).where(Vote.message_id.in_(doomed)))
    gone = await session.scalars(
        delete(Message)
        .where(Message.chat_id == chat_id, Message.created_at >= since)
        .returning(Message.id)
    )
    return len(gone.all())


# --- votes ---------------------------------------------------------------------------------


async def get_votes(session: AsyncSession, chat_id: uuid.UUID) -> list[Vote]:
    result = await session.scalars(
        select(Vote).where(Vote.chat_id == chat_id).order_by(Vote.message_id)
    )
    return list(result.all())


async def upsert_vote(
    session: AsyncSession, chat_id: uuid.UUID, message_id: uuid.UUID, *, is_upvoted: bool
) -> None:
    """Insert or update the vote keyed by (chatId, messageId), in one statement."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Vote).values(chat_id=chat_id, message_id=message_id, is_upvoted=is_upvoted)
    statement = statement.on_conflict_do_update(
        index_elements=[Vote.chat_id, Vote.message_id],
        set_={"isUpvoted": statement.excluded.isUpvoted},
    )
    await session.execute(statement)
