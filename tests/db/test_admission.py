"""The PostgreSQL admission: one statement that locks, counts, inserts and commits (without
waiting for the WAL flush), then the one that makes the admitted message durable."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chatbot_api.chats import limits, turn_store
from chatbot_api.db.engine import create_engine
from chatbot_api.db.migrate import upgrade_head
from chatbot_api.db.session import DRIVER_ERRORS
from chatbot_api.db.types import utcnow
from tests.db.pg import PgDatabase


async def _waiting_for_advisory_lock(empty_pg: PgDatabase) -> int:
    """The pid of the backend that waits for an advisory lock (polled, up to 5 s)."""
    for _ in range(100):
        rows = await empty_pg.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        if rows:
            return int(rows[0][0])
        await asyncio.sleep(0.05)
    raise AssertionError("no backend waits for the user's lock")


@contextlib.asynccontextmanager
async def _migrated(
    empty_pg: PgDatabase, *, pool_size: int
) -> AsyncIterator[tuple[AsyncEngine, uuid.UUID]]:
    """An engine on the migrated database (at most `pool_size` connections) and a user."""
    engine = create_engine(empty_pg.url, pool_size=pool_size, max_overflow=0)
    user_id = uuid.uuid4()
    try:
        await upgrade_head(engine)
        await empty_pg.execute(f"""INSERT INTO "User" (id, email) VALUES ('{user_id}', 'a@b.c')""")
        yield engine, user_id
    finally:
        await engine.dispose()


async def _admit(
    engine: AsyncEngine, new: turn_store.NewMessage, *, durable_early: bool = True
) -> tuple[turn_store.AdmissionFacts, list[turn_store.HistoryRow], turn_store.PgAdmission]:
    key = limits.user_lock_key(new.user_id)
    return await turn_store.admit_message_pg(
        engine, limits.USER_LOCK_NAMESPACE, key, new, durable_early=durable_early
    )


def _message(
    user_id: uuid.UUID, chat_id: uuid.UUID, *, limit: int = 10, text: str = "hello"
) -> turn_store.NewMessage:
    now = utcnow()
    return turn_store.NewMessage(
        user_id=user_id,
        chat_id=chat_id,
        message_id=uuid.uuid4(),
        parts=[{"type": "text", "text": text}],
        stream_id=uuid.uuid4(),
        created_at=now,
        since=now - timedelta(hours=24),
        max_per_day=limit,
        history_limit=10,
        new_chat_title="New chat",
        visibility="private",
    )


async def test_admission_counts_across_chats_commits_and_holds_nothing(
    empty_pg: PgDatabase,
) -> None:
    """Messages in several chats count against the limit; the one over it is refused and
    inserts nothing; each call has committed when it returns (no transaction left open, no
    advisory lock held); the history comes back oldest first."""
    async with _migrated(empty_pg, pool_size=1) as (engine, user_id):
        limit = 7
        chats = [uuid.uuid4() for _ in range(4)]
        sent, owners, histories = [], [], []
        for index in range(limit + 1):  # two messages per chat: the count spans chats
            new = _message(user_id, chats[index // 2], limit=limit, text=f"message {index}")
            facts, history, admission = await _admit(engine, new, durable_early=False)
            if facts.sent < limit:
                await admission.make_durable()
            admission.release()  # the pool holds one connection: the next call needs it back
            sent.append(facts.sent)
            owners.append(facts.owner)
            histories.append([row[2][0]["text"] for row in history])
        assert sent == list(range(limit + 1))  # the last one saw 7 sent: refused
        assert owners[::2] == [None] * 4  # the first message of each chat created it
        assert owners[1::2] == [user_id] * 4
        assert histories[1] == ["message 0"]
        assert histories[7] == ["message 6"]  # refused, but the history is still read
        rows = await empty_pg.fetch("""SELECT count(*) FROM "Message_v2" WHERE role = 'user'""")
        assert rows[0][0] == limit
        rows = await empty_pg.fetch("""SELECT count(*) FROM "Stream\"""")
        assert rows[0][0] == limit
        locks = await empty_pg.fetch("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        idle = await empty_pg.fetch(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
        assert (locks[0][0], idle[0][0]) == (0, 0)


async def test_a_connection_lost_during_the_admission_is_discarded(empty_pg: PgDatabase) -> None:
    """The admission's connection dies under it (its server backend is terminated while it
    waits for the user's lock): the call fails, the connection is thrown away instead of
    going back to the pool, and the next admission gets a new one and succeeds."""
    async with _migrated(empty_pg, pool_size=1) as (engine, user_id):

        def message() -> turn_store.NewMessage:
            return _message(user_id, uuid.uuid4())

        _, _, admission = await _admit(engine, message(), durable_early=False)
        admission.release()
        blocker = await asyncpg.connect(empty_pg.raw_url)
        try:
            await blocker.execute("BEGIN")
            await blocker.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                limits.USER_LOCK_NAMESPACE,
                limits.user_lock_key(user_id),
            )
            lost = asyncio.ensure_future(_admit(engine, message(), durable_early=False))
            backend = await _waiting_for_advisory_lock(empty_pg)
            await empty_pg.execute(f"SELECT pg_terminate_backend({backend})")
            with pytest.raises((*DRIVER_ERRORS, OSError)):
                await lost
        finally:
            await blocker.close()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        facts, _, admission = await _admit(engine, message(), durable_early=False)
        admission.release()
        assert (facts.owner, facts.taken) == (None, False)
        rows = await empty_pg.fetch("""SELECT count(*) FROM "Message_v2" WHERE role = 'user'""")
        assert rows[0][0] == 2  # the lost call inserted nothing


async def test_the_message_is_durable_once_its_stream_row_is_committed(
    empty_pg: PgDatabase,
) -> None:
    """The admission's commit does not wait for the WAL flush; the durability statement, sent
    on a second connection during the admission, commits the turn's stream row with the
    flush: when it returns, the WAL is flushed past everything the admission wrote. The
    admission's `synchronous_commit` does not outlive its own transaction."""
    async with _migrated(empty_pg, pool_size=2) as (engine, user_id):
        new = _message(user_id, uuid.uuid4())
        facts, _, admission = await _admit(engine, new)
        assert (facts.owner, facts.sent, facts.taken) == (None, 0, False)
        written = (await empty_pg.fetch("SELECT pg_current_wal_insert_lsn()"))[0][0]
        await admission.make_durable()
        admission.release()
        flushed = await empty_pg.fetch("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", written)
        assert flushed[0][0] is True
        streams = await empty_pg.fetch("""SELECT id, "chatId" FROM "Stream\"""")
        assert [(r["id"], r["chatId"]) for r in streams] == [(new.stream_id, new.chat_id)]
        await asyncio.sleep(0.05)
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            assert await driver.fetchval("SHOW synchronous_commit") == "on"


async def test_a_durability_statement_that_ran_first_is_sent_again(
    empty_pg: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the early durability statement take the user's lock before the admission does,
    it finds no message and inserts nothing (faked here: it answers so without asking);
    `make_durable` then sends it again, after the admission, and the stream row is there."""
    calls: list[bool] = []
    real_call = turn_store._Durable.call

    async def recorded(self: Any, conn: Any) -> bool:
        found = await real_call(self, conn)
        calls.append(found)
        return found

    async def ahead(self: Any, engine: Any) -> Any:  # as if it ran before the admission
        return await engine.raw_connection(), False

    monkeypatch.setattr(turn_store._Durable, "call", recorded)
    monkeypatch.setattr(turn_store._Durable, "early", ahead)
    async with _migrated(empty_pg, pool_size=2) as (engine, user_id):
        new = _message(user_id, uuid.uuid4())
        _, _, admission = await _admit(engine, new)
        await admission.make_durable()
        admission.release()
        assert calls == [True]  # sent again, it found the message
        streams = await empty_pg.fetch("""SELECT id FROM "Stream\"""")
        assert [r["id"] for r in streams] == [new.stream_id]
        await asyncio.sleep(0.05)
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_refused_message_gets_no_stream_row_and_returns_both_connections(
    empty_pg: PgDatabase,
) -> None:
    """Over the limit: the early durability statement finds nothing (the admission inserted
    nothing), and both connections go back to the pool once it has answered."""
    async with _migrated(empty_pg, pool_size=2) as (engine, user_id):
        facts, _, admission = await _admit(engine, _message(user_id, uuid.uuid4(), limit=0))
        admission.release()
        assert (facts.owner, facts.sent) == (None, 0)  # refused: 0 sent, 0 allowed
        for _ in range(50):
            if engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        rows = await empty_pg.fetch("""SELECT count(*) FROM "Message_v2\"""")
        streams = await empty_pg.fetch("""SELECT count(*) FROM "Stream\"""")
        assert (rows[0][0], streams[0][0]) == (0, 0)
