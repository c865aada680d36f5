"""The chat turn's hot-path SQL, one statement each: admission facts with the recent history,
the turn's rows, the reply with its usage and the title. On PostgreSQL a new user message is
admitted in three round trips on the driver connection (`admit_message_pg`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Executable,
    Insert,
    Integer,
    Update,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatbot_api.chats.models import Chat, Message, MessageUsage, Stream
from chatbot_api.db.types import truncate_ms

# Statements are built once (bind parameters by name), so executing one only looks up its
# compiled form in SQLAlchemy's cache: no per-call construction or cache-key walk.
_OWNER = select(Chat.user_id).where(Chat.id == bindparam("chat_id")).scalar_subquery()
_SENT = (
    select(func.count(Message.id))
    .join(Chat, Chat.id == Message.chat_id)
    .where(
        Chat.user_id == bindparam("user_id"),
        Message.role == "user",
        Message.created_at >= bindparam("since", type_=Message.created_at.type),
    )
    .scalar_subquery()
)
_TAKEN = select(Message.id).where(Message.id == bindparam("message_id")).exists()
_RECENT = (
    select(Message.id, Message.role, Message.parts, Message.created_at)
    .where(Message.chat_id == bindparam("chat_id"))
    .order_by(Message.created_at.desc(), Message.id.desc())
    .limit(bindparam("limit"))
)
# The facts (first row, kind 0) and the last messages of the chat if it is the user's (kind 1,
# newest first), in one round trip.
_NULL_COLUMNS = (
    Chat.user_id.type,
    Integer(),
    Boolean(),
    *(c.type for c in _RECENT.selected_columns),
)
_OWN_RECENT = _RECENT.where(bindparam("user_id") == _OWNER).subquery()


def _nulls(types: tuple[Any, ...]) -> list[Any]:
    return [type_coerce(null(), t) for t in types]


_FACTS_AND_RECENT = union_all(
    select(
        literal(0).label("kind"),
        _OWNER.label("owner"),
        _SENT.label("sent"),
        _TAKEN.label("taken"),
        *_nulls(_NULL_COLUMNS[3:]),
    ),
    select(literal(1), *_nulls(_NULL_COLUMNS[:3]), *_OWN_RECENT.c),
)


def _insert(model: type[Any], prefix: str) -> Insert:
    """INSERT of every column of the model's table, bound as `<prefix><column name>`."""
    table = model.__table__
    return insert(table).values(
        {column.name: bindparam(prefix + column.name, type_=column.type) for column in table.c}
    )


@dataclass(frozen=True, slots=True)
class _Writes:
    """Statements run together: on PostgreSQL as one (the last as the main statement, the
    others as data-modifying CTEs; foreign keys are checked at the statement's end), one by
    one elsewhere."""

    combined: Executable
    parts: tuple[Executable, ...]


def _combined(*parts: Insert | Update) -> _Writes:
    *ctes, last = parts
    statement: Any = last
    for index, part in enumerate(ctes):
        statement = statement.add_cte(part.cte(f"w{index}"))
    return _Writes(statement, parts)


_CHAT, _MESSAGE, _STREAM, _USAGE = (
    _insert(Chat, "c_"),
    _insert(Message, "m_"),
    _insert(Stream, "s_"),
    _insert(MessageUsage, "u_"),
)
_TITLE = update(Chat).where(Chat.id == bindparam("t_id")).values(title=bindparam("t_title"))
_NEW_CHAT_TURN = _combined(_CHAT, _MESSAGE, _STREAM)
_TURN = _combined(_MESSAGE, _STREAM)
_REPLY = _combined(_MESSAGE, _USAGE)
_REPLY_TITLED = _combined(_TITLE, _MESSAGE, _USAGE)


async def _execute(conn: AsyncConnection, writes: _Writes, params: dict[str, Any]) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(writes.combined, params)
        return
    for part in writes.parts:  # each takes the parameters it names
        await conn.execute(part, params)


def _prefixed(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    return {prefix + key: value for key, value in row.items()}


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    """What admitting a new user message depends on, read under the user's lock."""

    owner: uuid.UUID | None  # the chat's user; None when there is no such chat
    sent: int  # user messages of the user in the window (the daily limit)
    taken: bool  # a message with the new message's id already exists


HistoryRow = tuple[uuid.UUID, str, list[dict[str, Any]], datetime]
"""(id, role, parts, createdAt) of a stored message, as the model's context needs it."""


async def admission_facts_and_history(
    conn: AsyncConnection,
    *,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    since: datetime,
    limit: int,
) -> tuple[AdmissionFacts, list[HistoryRow]]:
    """`admission_facts` and, when the chat is the user's, its last `limit` messages (oldest
    first), in one statement."""
    params = {
        "chat_id": chat_id,
        "user_id": user_id,
        "message_id": message_id,
        "since": since,
        "limit": limit,
    }
    facts: AdmissionFacts | None = None
    history: list[HistoryRow] = []
    for row in (await conn.execute(_FACTS_AND_RECENT, params)).all():
        if row[0] == 0:
            facts = AdmissionFacts(owner=row[1], sent=int(row[2] or 0), taken=bool(row[3]))
        else:
            history.append((row[4], row[5], row[6], row[7]))
    assert facts is not None
    history.sort(key=lambda row: (row[3], row[0]))
    return facts, history


@dataclass(frozen=True, slots=True)
class NewTurnRows:
    """The rows a turn adds before it streams, by column name: the chat (if new), the user
    message, the stream."""

    chat: dict[str, Any] | None
    message: dict[str, Any]
    stream: dict[str, Any]


async def insert_turn(conn: AsyncConnection, rows: NewTurnRows) -> None:
    """Insert the turn's rows (one statement on PostgreSQL)."""
    params = {**_prefixed("m_", rows.message), **_prefixed("s_", rows.stream)}
    if rows.chat is None:
        await _execute(conn, _TURN, params)
        return
    await _execute(conn, _NEW_CHAT_TURN, {**params, **_prefixed("c_", rows.chat)})


@dataclass(frozen=True, slots=True)
class ReplyRows:
    """What a finished turn writes, by column name: the assistant message, its usage row, and
    the chat's title when it was generated by then."""

    message: dict[str, Any]
    usage: dict[str, Any]
    title: str | None = None


async def insert_reply(conn: AsyncConnection, rows: ReplyRows) -> None:
    """Insert a new reply with its usage, and set the title (one statement on PostgreSQL)."""
    params = {**_prefixed("m_", rows.message), **_prefixed("u_", rows.usage)}
    if rows.title is None:
        await _execute(conn, _REPLY, params)
        return
    params.update(t_id=rows.message["chatId"], t_title=rows.title)
    await _execute(conn, _REPLY_TITLED, params)


async def set_title(conn: AsyncConnection, chat_id: uuid.UUID, title: str) -> None:
    await conn.execute(_TITLE, {"t_id": chat_id, "t_title": title})


# --- PostgreSQL: a new user message admitted in three round trips ---------------------------
# 1. `BEGIN` and the user's advisory lock, as one simple query (the lock must be its own
#    statement: a statement that took it would count with a snapshot older than the lock),
#    which also makes the transaction use the admission statement's cached generic plan;
# 2. the facts, the recent history and, only when the facts admit the message, the chat (if
#    new), the message and the stream inserted (data-modifying CTEs; foreign keys are checked
#    at the statement's end);
# 3. `COMMIT` (or `ROLLBACK` when refused), while the model call already starts.
# Same lock as `limits.lock_user_messages` (namespace, key), so every writer serialises.
#
# PostgreSQL's `auto` plan cache mode keeps re-planning the admission statement on every call
# (its custom plans look cheaper than the generic one), and planning it costs as much as
# running it: 0.56 ms a call against 0.28 ms with the cached plan, for a user of 20 chats on a
# database of 14,000 (measured). So the transaction forces the generic plan, built once per
# connection. The statement is written
# so that plan is the right one for any user: every lookup is by primary key or by an index
# prefix, and the daily count is a correlated subquery (an index probe per chat of the user),
# which a planner cannot turn into a scan of all messages.
_PG_BEGIN_LOCKED = (
    "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; "
    "SELECT pg_advisory_xact_lock({namespace}, {key})"
)
_PG_ADMIT = """
WITH facts AS (
    SELECT
        (SELECT "userId" FROM "Chat" WHERE id = $1) AS owner,
        (SELECT coalesce(sum((
            SELECT count(*) FROM "Message_v2" m
            WHERE m."chatId" = c.id AND m.role = 'user' AND m."createdAt" >= $3
         )), 0)::bigint FROM "Chat" c WHERE c."userId" = $2) AS sent,
        EXISTS (SELECT 1 FROM "Message_v2" WHERE id = $4) AS taken
), admitted AS (
    SELECT owner FROM facts
    WHERE (owner IS NULL OR owner = $2) AND sent < $5 AND NOT taken
), new_chat AS (
    INSERT INTO "Chat" (id, "createdAt", title, "userId", visibility)
    SELECT $1, $6, $7, $2, $8 FROM admitted WHERE owner IS NULL
), new_message AS (
    INSERT INTO "Message_v2" (id, "chatId", role, parts, attachments, "createdAt")
    SELECT $4, $1, 'user', $9, '[]', $6 FROM admitted
), new_stream AS (
    INSERT INTO "Stream" (id, "chatId", "createdAt")
    SELECT $10, $1, $6 FROM admitted
)
SELECT 0 AS kind, owner, sent, taken,
       NULL::uuid AS id, NULL::varchar AS role, NULL::text AS parts, NULL::timestamp AS at
FROM facts
UNION ALL (
    SELECT 1, NULL, NULL, NULL, id, role, parts::text, "createdAt" FROM "Message_v2"
    WHERE "chatId" = $1 AND $2 = (SELECT owner FROM facts)
    ORDER BY "createdAt" DESC, id DESC
    LIMIT $11
)
"""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A new user message to admit: its chat (created when new) and its stream."""

    user_id: uuid.UUID
    chat_id: uuid.UUID
    message_id: uuid.UUID
    parts: list[dict[str, Any]]
    stream_id: uuid.UUID
    created_at: datetime
    since: datetime  # start of the daily-limit window
    max_per_day: int
    history_limit: int
    new_chat_title: str
    visibility: str


class PgAdmission:
    """One admission's transaction on a pooled connection's asyncpg driver connection (no
    SQLAlchemy statement machinery on the hot path). Use as `async with`; `commit()` ends it,
    leaving without a commit rolls back; a connection in doubt is discarded, never reused."""

    def __init__(self, engine: AsyncEngine, lock_namespace: int, lock_key: int) -> None:
        self._engine = engine
        self._lock = _PG_BEGIN_LOCKED.format(namespace=int(lock_namespace), key=int(lock_key))
        self._conn: AsyncConnection | None = None
        self._driver: Any = None

    async def __aenter__(self) -> PgAdmission:
        conn = await self._engine.connect()
        self._conn = conn
        try:
            self._driver = (await conn.get_raw_connection()).driver_connection
            await self._driver.execute(self._lock)
        except BaseException:
            await self._discard()
            raise
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._driver.is_in_transaction():
                await self._driver.execute("ROLLBACK")
        except BaseException:
            await conn.invalidate()
            raise
        finally:
            await conn.close()

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.invalidate()
            await conn.close()

    async def admit(self, new: NewMessage) -> tuple[AdmissionFacts, list[HistoryRow]]:
        """The facts and the chat's recent history (oldest first, when it is the user's);
        the rows are inserted only when the facts admit the message."""
        at = truncate_ms(new.created_at.astimezone(UTC).replace(tzinfo=None))
        since = new.since.astimezone(UTC).replace(tzinfo=None)
        try:
            rows = await self._driver.fetch(
                _PG_ADMIT,
                new.chat_id,
                new.user_id,
                since,
                new.message_id,
                new.max_per_day,
                at,
                new.new_chat_title,
                new.visibility,
                orjson.dumps(new.parts).decode(),
                new.stream_id,
                new.history_limit,
            )
        except BaseException:
            await self._discard()
            raise
        facts: AdmissionFacts | None = None
        history: list[HistoryRow] = []
        for row in rows:
            if row[0] == 0:
                facts = AdmissionFacts(owner=row[1], sent=int(row[2] or 0), taken=bool(row[3]))
            else:
                history.append((row[4], row[5], orjson.loads(row[6]), row[7].replace(tzinfo=UTC)))
        assert facts is not None
        history.reverse()
        return facts, history

    async def commit(self) -> None:
        try:
            await self._driver.execute("COMMIT")
        except BaseException:
            await self._discard()
            raise
