"""The PostgreSQL admission: one statement that locks, counts, inserts and commits."""

from __future__ import annotations

import uuid
from datetime import timedelta

from chatbot_api.chats import limits, turn_store
from chatbot_api.db.engine import create_engine
from chatbot_api.db.migrate import upgrade_head
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
