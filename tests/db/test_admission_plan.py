"""The PostgreSQL admission statement runs on a plan cached per connection."""

from __future__ import annotations

import uuid
from datetime import timedelta

from chatbot_api.chats import limits, turn_store
from chatbot_api.db.engine import create_engine
from chatbot_api.db.migrate import upgrade_head
from chatbot_api.db.types import utcnow
from tests.db.pg import PgDatabase


async def test_admission_reuses_its_generic_plan_and_still_counts_exactly(
    empty_pg: PgDatabase,
) -> None:
    """PostgreSQL's `auto` mode would plan the statement again on every call; the admission
    forces the generic plan, built once, and its count (one index probe per chat of the user)
    stays exact: the message over the limit is refused and inserts nothing."""
    engine = create_engine(empty_pg.url, pool_size=1, max_overflow=0)
    user_id = uuid.uuid4()
    try:
        await upgrade_head(engine)
        await empty_pg.execute(f"""INSERT INTO "User" (id, email) VALUES ('{user_id}', 'a@b.c')""")
        limit = 7
        chats = [uuid.uuid4() for _ in range(4)]
        facts = []
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
            async with turn_store.PgAdmission(engine, limits.USER_LOCK_NAMESPACE, key) as admission:
                fact, _ = await admission.admit(new)
                await admission.commit()
            facts.append(fact.sent)
        assert facts == list(range(limit + 1))  # the last one saw 7 sent: refused, not inserted
        rows = await empty_pg.fetch("""SELECT count(*) FROM "Message_v2" WHERE role = 'user'""")
        assert rows[0][0] == limit
        async with engine.connect() as conn:  # the pool's one connection: the same session
            driver = (await conn.get_raw_connection()).driver_connection
            plans = await driver.fetch(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%WITH facts AS%' AND statement NOT LIKE '%pg_prepared%'"
            )
        assert [(row[0], row[1]) for row in plans] == [(limit + 1, 0)]
    finally:
        await engine.dispose()
