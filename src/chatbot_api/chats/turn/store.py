"""Every SQL statement of the chat turn: the user's write lock, the admission's facts and the
chat's history, the turn's rows, and the reply with its usage and the chat's title."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Table, bindparam, func, insert, literal, select, text, update
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


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


_CHATS, _MESSAGES, _STREAM_REPLY, _USAGE = map(_table, (Chat, Message, StreamReply, MessageUsage))


def _insert_row(model: type[Any]) -> Any:
    """An INSERT of the model's table, each column bound by its name: built once, so that
    executing it only looks up its compiled form."""
    table = _table(model)
    return insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in table.c})


_CHAT_ROW = _insert_row(Chat)
_MESSAGE_ROW = _insert_row(Message)
_STREAM_ROW = _insert_row(Stream)


async def insert_turn(session: AsyncSession, rows: TurnRows) -> None:
    conn = await session.connection()
    at = rows.created_at
    if rows.new_chat_visibility is not None:
        chat: dict[str, Any] = {"id": rows.chat_id, "createdAt": at, "title": NEW_CHAT_TITLE}
        chat.update(userId=rows.user_id, visibility=rows.new_chat_visibility)
        await conn.execute(_CHAT_ROW, chat)
    if rows.message_id is not None:
        message: dict[str, Any] = {"id": rows.message_id, "chatId": rows.chat_id, "role": "user"}
        message.update(parts=rows.parts, attachments=[], createdAt=at)
        await conn.execute(_MESSAGE_ROW, message)
    await conn.execute(_STREAM_ROW, {"id": rows.stream_id, "chatId": rows.chat_id, "createdAt": at})


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


def _reply_statements(dialect: Any) -> dict[str, Any]:
    """The reply's statements for one dialect (their ON CONFLICT clauses are its own)."""
    mark = dialect.insert(_STREAM_REPLY).values(
        {c.name: bindparam(c.name, type_=c.type) for c in _STREAM_REPLY.c}
    )
    message = dialect.insert(_MESSAGES).values(
        {c.name: bindparam(c.name, type_=c.type) for c in _MESSAGES.c}
    )
    usage_table = _USAGE
    usage = dialect.insert(usage_table).values(
        {c.name: bindparam(c.name, type_=c.type) for c in usage_table.c}
    )
    new = usage.excluded
    old = usage_table.c
    return {
        "mark": mark.on_conflict_do_nothing(),
        "message": message.on_conflict_do_update(
            index_elements=[_MESSAGES.c.id], set_={"parts": message.excluded.parts}
        ),
        "usage": usage.on_conflict_do_update(
            index_elements=[old.messageId],
            set_={
                "modelId": new.modelId,
                "inputTokens": old.inputTokens + new.inputTokens,
                "outputTokens": old.outputTokens + new.outputTokens,
                "reasoningTokens": _sum_nullable(old.reasoningTokens, new.reasoningTokens),
                "cachedInputTokens": _sum_nullable(old.cachedInputTokens, new.cachedInputTokens),
            },
        ),
    }


def _sum_nullable(stored: Any, added: Any) -> Any:
    """stored + added, where a missing count on either side leaves the other."""
    return func.coalesce(stored + added, stored, added)


_REPLY = {"postgresql": _reply_statements(postgresql), "sqlite": _reply_statements(sqlite)}
_PRIOR = select(_STREAM_REPLY.c.savedBy).where(_STREAM_REPLY.c.streamId == bindparam("streamId"))
_PROMOTE = (
    update(_STREAM_REPLY)
    .where(_STREAM_REPLY.c.streamId == bindparam("p_stream"))
    .values(savedBy=bindparam("p_saved_by"))
)
_PARTS = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("m_id"))
    .values(parts=bindparam("m_parts", type_=_MESSAGES.c.parts.type))
)
_TITLE = update(_CHATS).where(_CHATS.c.id == bindparam("t_id")).values(title=bindparam("t_title"))


# PostgreSQL, the common save (a producer's new reply): the mark, the message, its usage and
# the title in one statement; each part only when the mark is new (its CTE returns a row).
_PG_NEW_REPLY = text(
    """
    WITH mark AS (
        INSERT INTO "StreamReply" ("streamId", "messageId", "savedBy", "createdAt")
        VALUES (:streamId, :messageId, 'turn', :createdAt)
        ON CONFLICT DO NOTHING RETURNING 1 AS marked
    ), reply AS (
        INSERT INTO "Message_v2" (id, "chatId", role, parts, attachments, "createdAt")
        SELECT :messageId, :chatId, 'assistant', :parts, '[]', :createdAt FROM mark
        ON CONFLICT (id) DO UPDATE SET parts = EXCLUDED.parts
    ), usage AS (
        INSERT INTO "MessageUsage" ("messageId", "chatId", "userId", "modelId", "inputTokens",
            "outputTokens", "reasoningTokens", "cachedInputTokens", "createdAt")
        SELECT :messageId, :chatId, :userId, :modelId, :inputTokens, :outputTokens,
            :reasoningTokens, :cachedInputTokens, :createdAt FROM mark
        ON CONFLICT ("messageId") DO NOTHING
    ), title AS (
        UPDATE "Chat" SET title = :title
        WHERE id = :chatId AND :title IS NOT NULL AND EXISTS (SELECT 1 FROM mark)
    )
    SELECT count(*) FROM mark
    """
).bindparams(
    *(bindparam(c.name, type_=c.type) for c in _MESSAGES.c if c.name in ("parts", "createdAt")),
    bindparam("streamId", type_=_STREAM_REPLY.c.streamId.type),
    bindparam("messageId", type_=_MESSAGES.c.id.type),
    bindparam("chatId", type_=_MESSAGES.c.chatId.type),
    bindparam("userId", type_=_USAGE.c.userId.type),
    bindparam("title", type_=_CHATS.c.title.type),
)


async def save_reply(session: AsyncSession, row: ReplyRow) -> bool:
    """Save the reply once per turn (False: it was saved already). A producer's save replaces
    a recovery's (which knew less), and only a producer's adds the turn's usage."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql" and row.saved_by == "turn" and not row.continues:
        values: dict[str, Any] = {**row.usage, "streamId": row.stream_id}
        values["messageId"] = row.message_id
        values.update(chatId=row.chat_id, userId=row.user_id, modelId=row.model_id[:200])
        values.update(parts=row.parts, createdAt=row.created_at, title=row.title)
        values["inputTokens"] = values["inputTokens"] or 0
        values["outputTokens"] = values["outputTokens"] or 0
        if await conn.scalar(_PG_NEW_REPLY, values) == 1:
            return True  # else: saved before (a recovery's save is replaced below)
    statements = _REPLY[conn.dialect.name]
    mark: dict[str, Any] = {"streamId": row.stream_id, "messageId": row.message_id}
    mark.update(savedBy=row.saved_by, createdAt=row.created_at)
    marked = await conn.execute(statements["mark"], mark)
    if marked.rowcount != 1:
        prior = await conn.scalar(_PRIOR, {"streamId": row.stream_id})
        if not (prior == "recovery" and row.saved_by == "turn"):
            return False
        await conn.execute(_PROMOTE, {"p_stream": row.stream_id, "p_saved_by": row.saved_by})
    if row.continues:
        await conn.execute(_PARTS, {"m_id": row.message_id, "m_parts": row.parts})
    else:
        message: dict[str, Any] = {"id": row.message_id, "chatId": row.chat_id, "role": "assistant"}
        message.update(parts=row.parts, attachments=[], createdAt=row.created_at)
        await conn.execute(statements["message"], message)
    if row.saved_by == "turn":
        usage: dict[str, Any] = {
            "messageId": row.message_id,
            "chatId": row.chat_id,
            "userId": row.user_id,
        }
        usage.update(row.usage, modelId=row.model_id[:200], createdAt=row.created_at)
        usage["inputTokens"] = usage["inputTokens"] or 0
        usage["outputTokens"] = usage["outputTokens"] or 0
        await conn.execute(statements["usage"], usage)
    if row.title is not None:
        await conn.execute(_TITLE, {"t_id": row.chat_id, "t_title": row.title})
    return True


async def set_title(session: AsyncSession, chat_id: uuid.UUID, title: str) -> None:
    conn = await session.connection()
    await conn.execute(_TITLE, {"t_id": chat_id, "t_title": title})
