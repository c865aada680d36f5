"""The chat turn's hot-path SQL, one statement each: admission facts with the recent history,
the turn's rows, the reply with its usage and the title. On PostgreSQL a new user message is
admitted in one round trip (`admit_message_pg`)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
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
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from chatbot_api.chats.models import Chat, Message, MessageUsage, SentMessage, Stream
from chatbot_api.db.types import truncate_ms

log = structlog.get_logger(__name__)

# Statements are built once (bind parameters by name), so executing one only looks up its
# compiled form in SQLAlchemy's cache: no per-call construction or cache-key walk.
_OWNER = select(Chat.user_id).where(Chat.id == bindparam("chat_id")).scalar_subquery()
_SENT = (
    select(func.count())
    .where(
        SentMessage.user_id == bindparam("user_id"),
        SentMessage.created_at >= bindparam("since", type_=SentMessage.created_at.type),
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
"""(id, role, parts, createdAt) of a stored message: id and time order the history, the
model is shown role and parts."""


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


# --- PostgreSQL: a new user message admitted in one round trip ------------------------------
# `chatbot_api_admit_message_async_commit` (migration 0007) takes the user's advisory lock,
# then reads the facts and the recent history with a snapshot taken after the lock, and inserts
# the chat (if new) and the message only when the facts admit them. Called as a statement of
# its own: its implicit transaction has committed (or inserted nothing) when the rows come
# back, without waiting for the WAL flush. `chatbot_api_message_durable` (same lock) then
# inserts the turn's stream row and commits waiting for the flush, which covers the message.
# Same lock as `limits.lock_user_messages` (namespace, key), so every writer serialises.
_PG_ADMIT = (
    "SELECT kind, owner, sent, taken, id, role, parts, created_at "
    "FROM chatbot_api_admit_message_async_commit("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
_PG_DURABLE = "SELECT chatbot_api_message_durable($1, $2, $3, $4, $5, $6)"


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


class MessageGone(Exception):
    """The admitted message was deleted before it could be made durable."""


@dataclass(frozen=True, slots=True)
class _Durable:
    """`chatbot_api_message_durable`'s arguments for one admission."""

    lock_namespace: int
    lock_key: int
    new: NewMessage
    at: datetime  # the message's createdAt as stored

    async def call(self, conn: PoolProxiedConnection) -> bool:
        driver: Any = conn.driver_connection
        new = self.new
        found: bool = await driver.fetchval(
            _PG_DURABLE,
            self.lock_namespace,
            self.lock_key,
            new.stream_id,
            new.chat_id,
            new.message_id,
            self.at,
        )
        return found

    async def early(self, engine: AsyncEngine) -> tuple[PoolProxiedConnection, bool]:
        """On a connection of its own, sent while the admission runs: it waits on the user's
        lock, so it usually runs right after the admission's commit (if it took the lock
        first, it found nothing and says so)."""
        conn = await engine.raw_connection()
        try:
            return conn, await self.call(conn)
        except BaseException:
            await greenlet_spawn(_discard, conn)
            raise


class PgAdmission:
    """What follows the admitting statement: `make_durable()` (an admitted message), then
    `release()` in any case (once; later calls do nothing)."""

    def __init__(
        self,
        durable: _Durable,
        conn: PoolProxiedConnection | None,
        early: asyncio.Task[tuple[PoolProxiedConnection, bool]] | None,
    ) -> None:
        self._durable = durable
        self._conn = conn  # the admission's own, when nothing was sent early
        self._early = early

    async def make_durable(self) -> None:
        """Wait until the admitted message is durable: its turn's stream row committed (the
        flush covers the message). A connection that fails here is discarded; MessageGone if
        the message was deleted meanwhile."""
        if self._early is not None:
            self._conn, found = await self._early
            self._early = None
            if found:
                return
        conn = self._conn
        assert conn is not None, "released"
        try:  # (again, if the early one took the lock before the admission did)
            found = await self._durable.call(conn)
        except BaseException:
            self._conn = None
            await greenlet_spawn(_discard, conn)
            raise
        if not found:
            raise MessageGone()

    def release(self) -> None:
        """Return the connections (idle: no transaction open) to the pool, each in a task of
        its own (it can queue behind the turn's model call); a statement still running is
        let finish first."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _release_soon(conn)
        early, self._early = self._early, None
        if early is not None:
            early.add_done_callback(_release_early)


def _release_early(task: asyncio.Task[tuple[PoolProxiedConnection, bool]]) -> None:
    if not task.cancelled() and task.exception() is None:
        _release_soon(task.result()[0])  # a failed one discarded its connection


async def admit_message_pg(
    engine: AsyncEngine,
    lock_namespace: int,
    lock_key: int,
    new: NewMessage,
    *,
    durable_early: bool = True,
) -> tuple[AdmissionFacts, list[HistoryRow], PgAdmission]:
    """The facts and the chat's recent history (oldest first, when it is the user's), in one
    round trip on a pooled connection's asyncpg driver connection (no SQLAlchemy statement
    machinery on the hot path); the chat and the message are inserted and committed (durable
    once `PgAdmission.make_durable` returns) only when the facts admit the message. With
    `durable_early`, that second statement is sent on a second connection during this round
    trip; otherwise it follows on this one. A connection that fails during the call is in
    doubt: discarded, not reused."""
    at = truncate_ms(new.created_at.astimezone(UTC).replace(tzinfo=None))
    since = new.since.astimezone(UTC).replace(tzinfo=None)
    durable = _Durable(lock_namespace, lock_key, new, at)
    conn = await engine.raw_connection()  # the pool's connection, without a Connection
    # A task: it starts once the admission's statement is on its way.
    early = asyncio.ensure_future(durable.early(engine)) if durable_early else None
    try:
        driver: Any = conn.driver_connection
        rows = await driver.fetch(
            _PG_ADMIT,
            lock_namespace,
            lock_key,
            new.chat_id,
            new.user_id,
            new.message_id,
            since,
            new.max_per_day,
            at,
            new.new_chat_title,
            new.visibility,
            orjson.dumps(new.parts).decode(),
            new.history_limit,
        )
    except BaseException:
        await greenlet_spawn(_discard, conn)
        if early is not None:
            PgAdmission(durable, None, early).release()
        raise
    if early is None:
        admission = PgAdmission(durable, conn, None)
    else:
        _release_soon(conn)
        admission = PgAdmission(durable, None, early)
    try:
        facts: AdmissionFacts | None = None
        history: list[HistoryRow] = []
        for row in rows:
            if row[0] == 0:
                facts = AdmissionFacts(owner=row[1], sent=int(row[2] or 0), taken=bool(row[3]))
            else:
                parts = orjson.loads(row[6])
                history.append((row[4], row[5], parts, row[7].replace(tzinfo=UTC)))
        assert facts is not None  # the function's first row, always
    except BaseException:
        admission.release()
        raise
    history.reverse()
    return facts, history, admission


_releasing: set[asyncio.Task[None]] = set()


def _discard(conn: PoolProxiedConnection) -> None:
    conn.invalidate()
    conn.close()


def _release_soon(conn: PoolProxiedConnection) -> None:
    """Return an idle connection (no transaction open) to the pool in a task of its own."""
    task = asyncio.get_running_loop().create_task(greenlet_spawn(conn.close))
    _releasing.add(task)
    task.add_done_callback(_released)


def _released(task: asyncio.Task[None]) -> None:
    _releasing.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("returning a connection to the pool failed", error=str(task.exception()))
