"""The PostgreSQL admission: one statement that locks, counts, inserts and commits."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from chatbot_api.chats import limits, turn_store
from chatbot_api.db.engine import create_engine
from chatbot_api.db.migrate import upgrade_head
from chatbot_api.db.session import DRIVER_ERRORS
from chatbot_api.db.types import utcnow
from tests.db.pg import PgDatabase


async def test_admission_counts_across_chats_commits_and_holds_nothing(
    empty_pg: PgDatabase,
) -> None:
    """Messages in several chats count against the limit; the one over it is refused and
    inserts nothing; each call has committed when it returns (no transaction left open, no
    advisory lock held); the history comes back oldest first."""
    engine = create_engine(empty_pg.url, pool_size=1, max_overflow=0)
    user_id = uuid.uuid4()
    try:
        await upgrade_head(engine)
        await empty_pg.execute(f"""INSERT INTO "User" (id, email) VALUES ('{user_id}', 'a@b.c')""")
        limit = 7
        chats = [uuid.uuid4() for _ in range(4)]
        sent, owners, histories = [], [], []
        for index in range(limit + 1):  # two messages per chat: the count spans chats
            now = utcnow()
            new = turn_store.NewMessage(
                user_id=user_id,
                chat_id=chats[index // 2],
                message_id=uuid.uuid4(),
                parts=[{"type": "text", "text": f"message {index}"}],
                stream_id=uuid.uuid4(),
                created_at=now,
                since=now - timedelta(hours=24),
                max_per_day=limit,
                history_limit=10,
                new_chat_title="New chat",
                visibility="private",
            )
            key = limits.user_lock_key(user_id)
            facts, history, release = await turn_store.admit_message_pg(
                engine, limits.USER_LOCK_NAMESPACE, key, new
            )
            release()  # the pool holds one connection: the next call needs it back
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
    finally:
        await engine.dispose()


async def test_a_connection_lost_during_the_admission_is_discarded(empty_pg: PgDatabase) -> None:
    """The admission's connection dies under it (its server backend is terminated): the call
    fails, the connection is thrown away instead of going back to the pool, and the next
    admission gets a new one and succeeds."""
    engine = create_engine(empty_pg.url, pool_size=1, max_overflow=0)
    user_id = uuid.uuid4()
    try:
        await upgrade_head(engine)
        await empty_pg.execute(f"""INSERT INTO "User" (id, email) VALUES ('{user_id}', 'a@b.c')""")
        key = limits.user_lock_key(user_id)

        def message() -> turn_store.NewMessage:
            now = utcnow()
            return turn_store.NewMessage(
                user_id=user_id,
                chat_id=uuid.uuid4(),
                message_id=uuid.uuid4(),
                parts=[{"type": "text", "text": "hello"}],
                stream_id=uuid.uuid4(),
                created_at=now,
                since=now - timedelta(hours=24),
                max_per_day=10,
                history_limit=10,
                new_chat_title="New chat",
                visibility="private",
            )

        _, _, release = await turn_store.admit_message_pg(
            engine, limits.USER_LOCK_NAMESPACE, key, message()
        )
        release()
        async with engine.connect() as conn:  # the pool's one connection, back from `release`
            raw = await conn.get_raw_connection()
            backend = raw.driver_connection.get_server_pid()  # type: ignore[union-attr]
        await empty_pg.execute(f"SELECT pg_terminate_backend({backend})")
        lost = message()
        with pytest.raises((*DRIVER_ERRORS, OSError)):
            await turn_store.admit_message_pg(engine, limits.USER_LOCK_NAMESPACE, key, lost)
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        facts, _, release = await turn_store.admit_message_pg(
            engine, limits.USER_LOCK_NAMESPACE, key, message()
        )
        release()
        assert (facts.owner, facts.taken) == (None, False)
        rows = await empty_pg.fetch("""SELECT count(*) FROM "Message_v2" WHERE role = 'user'""")
        assert rows[0][0] == 2  # the lost call inserted nothing
    finally:
        await engine.dispose()
