"""The PostgreSQL admission: a new user message admitted in one round trip, by the function
of migration 0008 (the same rules as `admission.refuse`, held to them by one contract test
suite), made durable while the model request goes out; every other turn goes to the
portable admission."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatbot_api.chats.turn import store
from chatbot_api.chats.turn.admission import (
    Admission,
    AdmissionAsk,
    Admitted,
    refuse,
    regenerates,
)
from chatbot_api.chats.turn.store import AdmissionFacts, HistoryRow, Taken
from chatbot_api.db.errors import DATABASE_ERRORS, database_error
from chatbot_api.db.types import truncate_ms

_ADMIT = (
    "SELECT kind, owner, chat_exists, sent, oldest, taken_chat, taken_role, "
    "id, role, parts, created_at "
    "FROM chatbot_api_admit_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
# The turn's stream row: its commit waits for the WAL flush, which covers the admission's.
_DURABLE = 'INSERT INTO "Stream" (id, "chatId", "createdAt") VALUES ($1, $2, $3)'


class PgAdmission:
    """A new message (no answers to apply) by `chatbot_api_admit_turn`: under the user's lock
    it reads the facts and the history and, when they admit the message, inserts and commits
    it without waiting for the WAL flush; the turn's stream row follows on the same
    connection (`Admitted.durable`), its commit flushing both. A regenerate it finds (the id
    is taken in this chat) and every other turn go to `portable`."""

    def __init__(self, engine: AsyncEngine, portable: Admission) -> None:
        self._engine = engine
        self._portable = portable

    async def admit(self, ask: AdmissionAsk) -> Admitted:
        if ask.message_id is None or ask.answers:
            return await self._portable.admit(ask)
        try:
            conn = await self._engine.connect()
            rows = await self._call(conn, ask)
        except DATABASE_ERRORS as exc:
            raise database_error(exc) from exc
        try:
            facts, history = _read(rows)
            if regenerates(facts, ask):  # the function wrote nothing: a taken id
                await conn.close()
                return await self._portable.admit(ask)
            error = refuse(facts, ask)
        except BaseException:
            await conn.close()
            raise
        if error is not None:
            await conn.close()
            raise error
        durable = asyncio.ensure_future(self._make_durable(conn, ask))
        durable.add_done_callback(_seen)  # its turn may never start (its log failed to open)
        return Admitted(new_chat=not facts.chat_exists, history=history, durable=durable)

    async def _call(self, conn: AsyncConnection, ask: AdmissionAsk) -> list[Any]:
        """One statement on the pooled connection's asyncpg connection (no SQLAlchemy
        statement machinery on the way to the first token); a connection that fails is in
        doubt, and never reused."""
        at = truncate_ms(ask.created_at.astimezone(UTC).replace(tzinfo=None))
        since = ask.since.astimezone(UTC).replace(tzinfo=None)
        try:
            raw = await conn.get_raw_connection()
            rows: list[Any] = await raw.driver_connection.fetch(  # type: ignore[union-attr]
                _ADMIT,
                store.USER_LOCK_NAMESPACE,
                store.user_lock_key(ask.user_id),
                ask.chat_id,
                ask.user_id,
                ask.message_id,
                since,
                ask.max_per_day,
                at,
                store.NEW_CHAT_TITLE,
                ask.visibility,
                orjson.dumps(ask.parts).decode(),
                ask.history_limit,
            )
        except BaseException:
            await conn.invalidate()
            await conn.close()
            raise
        return rows

    async def _make_durable(self, conn: AsyncConnection, ask: AdmissionAsk) -> None:
        """The stream row, committed with the WAL flush; the connection goes back after."""
        at = truncate_ms(ask.created_at.astimezone(UTC).replace(tzinfo=None))
        try:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.execute(_DURABLE, ask.stream_id, ask.chat_id, at)
        except BaseException:
            await conn.invalidate()
            raise
        finally:
            await conn.close()


def _seen(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _read(rows: list[Any]) -> tuple[AdmissionFacts, list[HistoryRow]]:
    """The function's rows: the facts (first), then the history, newest first."""
    facts: AdmissionFacts | None = None
    history: list[HistoryRow] = []
    for row in rows:
        if row[0] == 0:
            facts = AdmissionFacts(
                owner=row[1],
                chat_exists=bool(row[2]),
                sent=int(row[3] or 0),
                oldest_sent=row[4].replace(tzinfo=UTC) if row[4] is not None else None,
                taken=Taken(row[5], row[6]) if row[5] is not None else None,
            )
        else:
            history.append((row[7], row[8], orjson.loads(row[9]), row[10].replace(tzinfo=UTC)))
    assert facts is not None  # the function's first row, always
    history.reverse()
    return facts, history
