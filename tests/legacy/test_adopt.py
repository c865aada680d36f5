"""Adopting a Next.js ai-chatbot database changes nothing the Next.js app reads (PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chatbot_api.db import migrate
from tests.db.pg import PgDatabase
from tests.legacy.conftest import snapshot
from tests.test_cli import run_cli


async def _revision(db: PgDatabase) -> str:
    rows = await db.fetch("SELECT version_num FROM alembic_version")
    assert len(rows) == 1
    return str(rows[0]["version_num"])


async def test_adopt_legacy_database_leaves_its_tables_and_rows_unchanged(
    legacy_pg: PgDatabase,
) -> None:
    before = await snapshot(legacy_pg)
    lines: list[str] = []

    head = await migrate.adopt(legacy_pg.url, echo=lines.append)

    after = await snapshot(legacy_pg)
    assert after["columns"] == before["columns"]
    assert after["constraints"] == before["constraints"]
    assert after["rows"] == before["rows"]
    assert after["drizzle"] == before["drizzle"]
    assert before["indexes"] <= after["indexes"]  # later revisions may only add indexes
    assert await _revision(legacy_pg) == head == migrate.head_revision()
    assert any("Next.js ai-chatbot app, 9 Drizzle migrations applied" in line for line in lines)
    assert any(f"Stamping the baseline {migrate.BASELINE_REVISION}" in line for line in lines)


async def test_adopt_twice_is_a_noop(legacy_pg: PgDatabase) -> None:
    await migrate.adopt(legacy_pg.url, echo=lambda _: None)
    before = await snapshot(legacy_pg)
    lines: list[str] = []

    await migrate.adopt(legacy_pg.url, echo=lines.append)

    assert await snapshot(legacy_pg) == before
    assert "Already adopted; applying any pending revisions" in lines
    assert lines[-1].startswith("Nothing to do")


async def test_startup_on_legacy_database_adopts_it(legacy_pg: PgDatabase) -> None:
    before = await snapshot(legacy_pg)
    lines: list[str] = []

    await migrate.migrate_on_startup(legacy_pg.url, echo=lines.append)

    after = await snapshot(legacy_pg)
    assert (after["columns"], after["rows"]) == (before["columns"], before["rows"])
    assert await _revision(legacy_pg) == migrate.head_revision()
    assert any(line.startswith("Adopting it") for line in lines)


async def test_upgrade_on_legacy_database_refuses_and_points_to_adopt(
    legacy_pg: PgDatabase,
) -> None:
    before = await snapshot(legacy_pg)

    with pytest.raises(migrate.MigrationError, match="chatbot-api db adopt"):
        await migrate.upgrade(legacy_pg.url, echo=lambda _: None)

    assert await snapshot(legacy_pg) == before
    rows = await legacy_pg.fetch("SELECT to_regclass('alembic_version') AS t")
    assert rows[0]["t"] is None


async def test_adopt_partial_schema_refuses_naming_what_is_missing(
    legacy_pg: PgDatabase,
) -> None:
    await legacy_pg.execute('DROP TABLE "Stream"; ALTER TABLE "Chat" DROP COLUMN "visibility"')

    with pytest.raises(migrate.MigrationError) as caught:
        await migrate.adopt(legacy_pg.url, echo=lambda _: None)

    message = str(caught.value)
    assert 'missing table "Stream"' in message
    assert 'missing column "Chat"."visibility"' in message
    rows = await legacy_pg.fetch("SELECT to_regclass('alembic_version') AS t")
    assert rows[0]["t"] is None  # nothing was stamped


async def test_adopt_incompatible_column_type_refuses(legacy_pg: PgDatabase) -> None:
    await legacy_pg.execute(
        'ALTER TABLE "Message_v2" ALTER COLUMN "parts" TYPE text USING "parts"::text'
    )

    with pytest.raises(migrate.MigrationError, match=r'"Message_v2"\."parts" is TEXT'):
        await migrate.migrate_on_startup(legacy_pg.url, echo=lambda _: None)


async def test_adopt_unknown_schema_refuses_listing_its_tables(empty_pg: PgDatabase) -> None:
    await empty_pg.execute("CREATE TABLE orders (id int PRIMARY KEY)")

    with pytest.raises(migrate.MigrationError, match=r"not the ai-chatbot schema \(orders\)"):
        await migrate.adopt(empty_pg.url, echo=lambda _: None)
    with pytest.raises(migrate.MigrationError, match="Point POSTGRES_URL at an empty database"):
        await migrate.migrate_on_startup(empty_pg.url, echo=lambda _: None)


async def test_adopt_empty_database_refuses_and_points_to_upgrade(empty_pg: PgDatabase) -> None:
    with pytest.raises(migrate.MigrationError, match="chatbot-api db upgrade"):
        await migrate.adopt(empty_pg.url, echo=lambda _: None)


async def test_adopted_database_still_accepts_the_nextjs_apps_writes(
    legacy_pg: PgDatabase,
) -> None:
    """The Next.js app keeps writing after adoption: its inserts and ordered deletes work."""
    await migrate.adopt(legacy_pg.url, echo=lambda _: None)
    await legacy_pg.execute(
        "INSERT INTO \"User\" (email, password) VALUES ('new@example.com', NULL);"
        'INSERT INTO "Chat" (id, "createdAt", title, "userId") SELECT '
        "gen_random_uuid(), now(), 'after adoption', id FROM \"User\" "
        "WHERE email = 'new@example.com';"
        'DELETE FROM "Vote_v2" WHERE "chatId" = \'00000000-0000-4000-8000-000000000101\';'
        'DELETE FROM "Message_v2" WHERE "chatId" = \'00000000-0000-4000-8000-000000000101\';'
        'DELETE FROM "Stream" WHERE "chatId" = \'00000000-0000-4000-8000-000000000101\';'
        "DELETE FROM \"Chat\" WHERE id = '00000000-0000-4000-8000-000000000101';"
    )

    rows = await legacy_pg.fetch(
        'SELECT c.visibility FROM "Chat" c JOIN "User" u ON u.id = c."userId" '
        "WHERE u.email = 'new@example.com'"
    )
    assert [r["visibility"] for r in rows] == ["private"]
    assert not await legacy_pg.fetch(
        "SELECT 1 FROM \"Chat\" WHERE id = '00000000-0000-4000-8000-000000000101'"
    )


async def test_cli_db_adopt_on_nextjs_database_reports_and_stamps(
    legacy_pg: PgDatabase, tmp_path: Path
) -> None:
    before = await snapshot(legacy_pg)

    current = await asyncio.to_thread(
        run_cli, tmp_path, "db", "current", POSTGRES_URL=legacy_pg.raw_url
    )
    adopted = await asyncio.to_thread(
        run_cli, tmp_path, "db", "adopt", POSTGRES_URL=legacy_pg.raw_url
    )

    assert current.returncode == 0, current.stderr
    assert "run `chatbot-api db adopt` to adopt it" in current.stdout
    assert adopted.returncode == 0, adopted.stderr
    assert "Every table and column the Next.js app uses is present" in adopted.stdout
    assert await _revision(legacy_pg) == migrate.head_revision()
    assert (await snapshot(legacy_pg))["rows"] == before["rows"]
