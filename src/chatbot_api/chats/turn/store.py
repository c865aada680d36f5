"""Every SQL statement of the chat turn: the user's write lock, the admission's facts and the
chat's history, the turn's rows, and the reply with its usage and the chat's title."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.chats import repository
from chatbot_api.chats.models import (
    Chat,
    Message,
    MessageUsage,
    SentMessage,
    Stream,
    StreamReply,
)
from chatbot_api.cloud.models import CloudThread

WINDOW = timedelta(hours=24)  # the daily message limit's window
# Namespace of our PostgreSQL advisory locks on users (the first int4 of the two-key form).
USER_LOCK_NAMESPACE = 0x43484154  # "CHAT"
NEW_CHAT_TITLE = "New chat"
_PG_LOCK = select(
    func.pg_advisory_xact_lock(
        literal(USER_LOCK_NAMESPACE, Integer), bindparam("key", type_=Integer)
    )
)


def user_lock_key(user_id: uuid.UUID) -> int:
    """The second key of the user's advisory lock (the first is `USER_LOCK_NAMESPACE`)."""
    return int.from_bytes(user_id.bytes[:4], "big", signed=True)


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise the user's turn admissions until this transaction ends, on every worker.

    PostgreSQL: a transaction-scoped advisory lock keyed by the user. SQLite: the database
    write lock (`BEGIN IMMEDIATE`), before anything is read, so the facts read next cannot go
    stale. Must be the session's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_PG_LOCK, {"key": user_lock_key(user_id)})
    else:
        await session.execute(text("BEGIN IMMEDIATE"))


# --- the admission's facts and the history -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Taken:
    """The stored message that already has the new message's id."""

    chat_id: uuid.UUID
    role: str


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """What admitting a turn depends on, read under the user's lock."""

    owner: uuid.UUID | None  # the conversation's owner: its chat's, else its cloud thread's
    chat_exists: bool
    sent: int  # the user's messages in the window (the daily limit)
    oldest_sent: datetime | None  # the oldest of them (when the window frees up)
    taken: Taken | None  # the stored message with the new message's id
    freed: int = 0  # of `sent`, those a regenerate deletes


HistoryRow = tuple[uuid.UUID, str, list[dict[str, Any]], datetime]
"""(id, role, parts, createdAt) of a stored message; the model is shown role and parts."""


def _scalar(statement: Any) -> Any:
    return statement.scalar_subquery()


_FACTS = select(
    _scalar(select(Chat.user_id).where(Chat.id == bindparam("chat_id"))),
    _scalar(select(CloudThread.user_id).where(CloudThread.id == bindparam("chat_id"))),
    _scalar(
        select(func.count()).where(
            SentMessage.user_id == bindparam("user_id"),
            SentMessage.created_at >= bindparam("since", type_=SentMessage.created_at.type),
        )
    ),
    _scalar(
        select(func.min(SentMessage.created_at)).where(
            SentMessage.user_id == bindparam("user_id"),
            SentMessage.created_at >= bindparam("since", type_=SentMessage.created_at.type),
        )
    ),
    _scalar(select(Message.chat_id).where(Message.id == bindparam("message_id"))),
    _scalar(select(Message.role).where(Message.id == bindparam("message_id"))),
)


async def read_facts(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    message_id: uuid.UUID | None,
    since: datetime,
) -> AdmissionFacts:
    """The admission's facts, in one statement."""
    params = {"chat_id": chat_id, "user_id": user_id, "message_id": message_id, "since": since}
    row = (await session.execute(_FACTS, params)).one()
    chat_owner, thread_owner, sent, oldest, taken_chat, taken_role = row
    return AdmissionFacts(
        owner=chat_owner or thread_owner,
        chat_exists=chat_owner is not None,
        sent=int(sent or 0),
        oldest_sent=oldest,
        taken=Taken(taken_chat, taken_role) if taken_chat is not None else None,
    )


async def read_history(
    session: AsyncSession,
    chat_id: uuid.UUID,
    limit: int,
    *,
    before: Message | None = None,
) -> list[HistoryRow]:
    """The chat's last `limit` messages (before `before`, if given), oldest first."""
    statement = (
        select(Message.id, Message.role, Message.parts, Message.created_at)
        .where(Message.chat_id == chat_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    if before is not None:
        statement = statement.where(Message.created_at < before.created_at)
    rows = [(row[0], row[1], row[2], row[3]) for row in await session.execute(statement)]
    rows.reverse()
    return rows


async def count_freed(
    session: AsyncSession,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    since: datetime,
) -> int:
    """The user's messages of the window that deleting the chat from `message_id` on removes."""
    start = select(Message.created_at).where(Message.id == message_id).scalar_subquery()
    count = await session.scalar(
        select(func.count())
        .select_from(SentMessage)
        .join(Message, Message.id == SentMessage.message_id)
        .where(
            SentMessage.user_id == user_id,
            SentMessage.created_at >= since,
            Message.chat_id == chat_id,
            Message.created_at >= start,
        )
    )
    return int(count or 0)


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> Message | None:
    return await repository.get_message(session, message_id)


async def delete_from(session: AsyncSession, chat_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """The message and every later one of the chat go (a regenerate)."""
    await repository.delete_messages_from(session, chat_id, message_id)


async def set_parts(
    session: AsyncSession, message_id: uuid.UUID, parts: list[dict[str, Any]]
) -> None:
    await repository.update_message_parts(session, message_id, parts)


# --- the turn's rows -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnRows:
    """What an admitted turn adds: the chat (when new), the user message (if any), its stream."""

    chat_id: uuid.UUID
    user_id: uuid.UUID
    stream_id: uuid.UUID
    created_at: datetime
    new_chat_visibility: str | None  # None: the chat exists
    message_id: uuid.UUID | None
    parts: list[dict[str, Any]] | None


async def insert_turn(session: AsyncSession, rows: TurnRows) -> None:
    if rows.new_chat_visibility is not None:
        await session.execute(
            insert(Chat).values(
                id=rows.chat_id,
                created_at=rows.created_at,
                title=NEW_CHAT_TITLE,
                user_id=rows.user_id,
                visibility=rows.new_chat_visibility,
            )
        )
    if rows.message_id is not None:
        await session.execute(
            insert(Message).values(
                id=rows.message_id,
                chat_id=rows.chat_id,
                role="user",
                parts=rows.parts,
                attachments=[],
                created_at=rows.created_at,
            )
        )
    await session.execute(
        insert(Stream).values(id=rows.stream_id, chat_id=rows.chat_id, created_at=rows.created_at)
    )


# --- the reply -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyRow:
    """A turn's reply as saved: the assistant message (new, or continued), its token usage
    (the turn's share) and the chat's title when it is known by then."""

    stream_id: uuid.UUID
    chat_id: uuid.UUID
    user_id: uuid.UUID
    message_id: uuid.UUID
    parts: list[dict[str, Any]]
    continues: bool
    model_id: str
    usage: dict[str, int | None]  # inputTokens, outputTokens, reasoningTokens, cachedInputTokens
    title: str | None
    saved_by: str  # "turn" | "recovery"
    created_at: datetime


def _insert_for(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def save_reply(session: AsyncSession, row: ReplyRow) -> bool:
    """Save the reply once per turn (False: it was saved already). A producer's save replaces
    a recovery's (which knew less), and only a producer's adds the turn's usage."""
    upsert = _insert_for(session)
    marked = await session.execute(
        upsert(StreamReply)
        .values(
            stream_id=row.stream_id,
            message_id=row.message_id,
            saved_by=row.saved_by,
            created_at=row.created_at,
        )
        .on_conflict_do_nothing()
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        prior = await session.scalar(
            select(StreamReply.saved_by).where(StreamReply.stream_id == row.stream_id)
        )
        if not (prior == "recovery" and row.saved_by == "turn"):
            return False
        await session.execute(
            update(StreamReply)
            .where(StreamReply.stream_id == row.stream_id)
            .values(saved_by=row.saved_by)
        )
    if row.continues:
        await set_parts(session, row.message_id, row.parts)
    else:
        statement = upsert(Message).values(
            id=row.message_id,
            chat_id=row.chat_id,
            role="assistant",
            parts=row.parts,
            attachments=[],
            created_at=row.created_at,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Message.id], set_={"parts": statement.excluded.parts}
            )
        )
    if row.saved_by == "turn":
        await _add_usage(session, row)
    if row.title is not None:
        await set_title(session, row.chat_id, row.title)
    return True


async def _add_usage(session: AsyncSession, row: ReplyRow) -> None:
    """Add the turn's usage to the message's (a continued message has one already)."""
    statement = _insert_for(session)(MessageUsage).values(
        message_id=row.message_id,
        chat_id=row.chat_id,
        user_id=row.user_id,
        model_id=row.model_id[:200],
        input_tokens=row.usage["inputTokens"] or 0,
        output_tokens=row.usage["outputTokens"] or 0,
        reasoning_tokens=row.usage["reasoningTokens"],
        cached_input_tokens=row.usage["cachedInputTokens"],
        created_at=row.created_at,
    )
    new = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[MessageUsage.message_id],
            set_={
                "modelId": new.modelId,
                "inputTokens": MessageUsage.input_tokens + new.inputTokens,
                "outputTokens": MessageUsage.output_tokens + new.outputTokens,
                "reasoningTokens": _sum_nullable(
                    MessageUsage.reasoning_tokens, new.reasoningTokens
                ),
                "cachedInputTokens": _sum_nullable(
                    MessageUsage.cached_input_tokens, new.cachedInputTokens
                ),
            },
        )
    )


def _sum_nullable(stored: Any, added: Any) -> Any:
    """stored + added, where a missing count on either side leaves the other."""
    return func.coalesce(stored + added, stored, added)


async def set_title(session: AsyncSession, chat_id: uuid.UUID, title: str) -> None:
    await repository.set_title(session, chat_id, title)
