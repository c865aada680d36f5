"""Creating and upgrading the schema: models agree with migrations; concurrent starts are safe."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth.models import User
from chatbot_api.chats.models import Chat, Message, SentMessage
from chatbot_api.chats.turn import store
from chatbot_api.db import migrate
from chatbot_api.db.engine import create_engine
from chatbot_api.db.models import Base
from chatbot_api.db.types import utcnow
from tests.db.pg import PgDatabase

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

STARTUP_SCRIPT = (
    "import asyncio, sys\n"
    "from chatbot_api.db.migrate import migrate_on_startup\n"
    "asyncio.run(migrate_on_startup(sys.argv[1]))\n"
)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return list(compare_metadata(context, Base.metadata))


# SQLite cannot reflect expression indexes (lower(email)); PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
async def test_migrated_schema_matches_the_models(db: TestDatabase) -> None:
    """Our `alembic check`: the migrations build exactly what the models declare."""
    async with db.engine.connect() as conn:
        differences = await conn.run_sync(_diff)

    assert differences == []


async def test_upgrade_creates_schema_in_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatbot.db'}"
    lines: list[str] = []

    head = await migrate.upgrade(url, echo=lines.append)
    state = await migrate.current(url, echo=lambda _: None)

    assert head == migrate.head_revision()
    assert (state.kind, state.revision) == ("managed", head)
    assert {"User", "Chat", "Message_v2", "Document", "Suggestion"} <= state.tables
    assert "Creating the schema" in lines
    assert f"  applying {migrate.BASELINE_REVISION}" in "\n".join(lines)


async def test_upgrade_twice_reports_nothing_to_do(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chatbot.db'}"
    await migrate.upgrade(url, echo=lambda _: None)
    lines: list[str] = []

    await migrate.upgrade(url, echo=lines.append)

    assert lines[-1] == f"Nothing to do: the database is already at {migrate.head_revision()}"


async def test_current_on_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "chatbot.db"

    state = await migrate.current(f"sqlite+aiosqlite:///{path}", echo=lambda _: None)

    assert state.kind == "empty"
    assert not path.parent.exists()


async def test_concurrent_startups_on_empty_postgres_create_schema_once(
    empty_pg: PgDatabase,
) -> None:
    outputs: list[list[str]] = [[] for _ in range(4)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            STARTUP_SCRIPT,
            empty_pg.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]

    await asyncio.gather(
        *(migrate.migrate_on_startup(empty_pg.url, echo=out.append) for out in outputs)
    )
    results = [await proc.communicate() for proc in processes]

    assert [proc.returncode for proc in processes] == [0, 0, 0], results
    transcripts = list(outputs) + [r[0].decode().splitlines() for r in results]
    creators = [t for t in transcripts if "Creating the schema" in t]
    assert len(creators) == 1
    assert all(t[-1].startswith(("Nothing to do", "Database schema is at")) for t in transcripts)
    rows = await empty_pg.fetch("SELECT version_num FROM alembic_version")
    assert [r["version_num"] for r in rows] == [migrate.head_revision()]


def test_concurrent_startups_on_one_sqlite_file_create_schema_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatbot.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTUP_SCRIPT, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in processes]

    assert [proc.returncode for proc in processes] == [0] * 4, results
    assert sum("Creating the schema" in out for out, _ in results) == 1


async def test_upgrade_unknown_revision_refuses_with_newer_release_hint(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chatbot.db'}"
    await migrate.upgrade(url, echo=lambda _: None)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_future'"))
    await engine.dispose()

    with pytest.raises(migrate.MigrationError, match=r"0099_from_future.*newer release"):
        await migrate.upgrade(url, echo=lambda _: None)


async def test_upgrade_unreachable_database_fails_with_clear_message() -> None:
    url = "postgresql+asyncpg://someone:hunter2@127.0.0.1:1/nowhere"

    with pytest.raises(migrate.MigrationError) as caught:
        await migrate.upgrade(url, echo=lambda _: None)

    message = str(caught.value)
    assert message.startswith("Cannot use the database postgresql+asyncpg://someone:***@")
    assert "hunter2" not in message


async def _alembic(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)

    def run(connection: Connection) -> None:
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _sent_message_backfill_and_downgrade(url: str) -> None:
    """Upgrading to 0006 records the user messages of the last 25 hours (not older ones, not
    assistant messages); after it, the admission's count sees them; downgrading removes it
    all."""
    await _alembic(url, "upgrade", "0005_admit_message_function")
    user_id, chat_id = uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    ages = {"user": [timedelta(hours=2), timedelta(hours=30)], "assistant": [timedelta(hours=1)]}
    recent = uuid.uuid4()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(User).values(id=user_id, email="a@b.c"))
            await conn.execute(
                insert(Chat).values(
                    id=chat_id, created_at=now, title="t", user_id=user_id, visibility="private"
                )
            )
            for role, role_ages in ages.items():
                for age in role_ages:
                    await conn.execute(
                        insert(Message).values(
                            id=recent if age == timedelta(hours=2) else uuid.uuid4(),
                            chat_id=chat_id,
                            role=role,
                            parts=[],
                            attachments=[],
                            created_at=now - age,
                        )
                    )
        await _alembic(url, "upgrade", "head")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(SentMessage.message_id, SentMessage.user_id))).all()
            assert [tuple(row) for row in rows] == [(recent, user_id)]
        async with AsyncSession(engine) as session:
            since = now - timedelta(hours=24)
            facts = await store.read_facts(
                session, user_id=user_id, chat_id=uuid.uuid4(), message_id=None, since=since
            )
            assert facts.sent == 1

        await _alembic(url, "downgrade", "0005_admit_message_function")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            assert "SentMessage" not in tables
            await conn.execute(  # the trigger went with it: inserts work as before
                insert(Message).values(
                    id=uuid.uuid4(),
                    chat_id=chat_id,
                    role="user",
                    parts=[],
                    attachments=[],
                    created_at=now,
                )
            )
            await conn.commit()
    finally:
        await engine.dispose()


async def test_sent_message_migration_on_sqlite(tmp_path: Path) -> None:
    await _sent_message_backfill_and_downgrade(f"sqlite+aiosqlite:///{tmp_path / 'chatbot.db'}")


async def test_sent_message_migration_on_postgres(empty_pg: PgDatabase) -> None:
    await _sent_message_backfill_and_downgrade(empty_pg.url)
    assert not await empty_pg.fetch(
        "SELECT 1 FROM pg_proc WHERE proname = 'chatbot_api_record_sent_message'"
    )


async def _functions(db: PgDatabase) -> set[str]:
    rows = await db.fetch("SELECT proname FROM pg_proc WHERE proname LIKE 'chatbot\\_api\\_%'")
    return {row["proname"] for row in rows}


async def _tables(db: PgDatabase) -> set[str]:
    rows = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def test_a_new_database_has_one_admission_function(empty_pg: PgDatabase) -> None:
    await _alembic(empty_pg.url, "upgrade", "head")
    assert await _functions(empty_pg) == {
        "chatbot_api_admit_turn",
        "chatbot_api_record_sent_message",
    }


async def test_a_0_1_database_upgrades_cleanly_and_back(empty_pg: PgDatabase) -> None:
    """A database of release 0.1 (at 0007, with the admission functions its migrations made):
    upgrading drops those, creates the one admission function and "StreamReply", and keeps
    every row; downgrading to 0007 takes back only what 0008 added."""
    await _alembic(empty_pg.url, "upgrade", "0007_admit_message_async_commit")
    await empty_pg.execute((Path(__file__).parent / "data" / "v0_1_functions.sql").read_text())
    old = {
        "chatbot_api_admit_message",
        "chatbot_api_admit_message_async_commit",
        "chatbot_api_message_durable",
    }
    assert old <= await _functions(empty_pg)
    user_id, chat_id = uuid.uuid4(), uuid.uuid4()
    await empty_pg.execute(
        f"""INSERT INTO "User" (id, email) VALUES ('{user_id}', 'a@b.c');
        INSERT INTO "Chat" (id, "createdAt", title, "userId", visibility)
        VALUES ('{chat_id}', now(), 'Kept', '{user_id}', 'private');
        INSERT INTO "Message_v2" (id, "chatId", role, parts, attachments, "createdAt")
        VALUES (gen_random_uuid(), '{chat_id}', 'user', '[]', '[]', now());"""
    )
    await _alembic(empty_pg.url, "upgrade", "head")
    assert await _functions(empty_pg) == {
        "chatbot_api_admit_turn",
        "chatbot_api_record_sent_message",
    }
    assert "StreamReply" in await _tables(empty_pg)
    count = 'SELECT count(*) AS n FROM "Message_v2" m JOIN "SentMessage" s ON s."messageId" = m.id'
    assert (await empty_pg.fetch(count))[0]["n"] == 1
    await _alembic(empty_pg.url, "downgrade", "0007_admit_message_async_commit")
    assert await _functions(empty_pg) == {"chatbot_api_record_sent_message"}
    assert "StreamReply" not in await _tables(empty_pg)
    assert (await empty_pg.fetch('SELECT title FROM "Chat"'))[0]["title"] == "Kept"
