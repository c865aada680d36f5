"""Fixtures: a PostgreSQL database built the way the Next.js app's migrations leave it."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.db.pg import PgDatabase, empty_pg
from tests.legacy.data import SCHEMA_SQL, insert_legacy_data

__all__ = ["empty_pg", "legacy_pg", "snapshot"]

LEGACY_TABLES = (
    "User",
    "Chat",
    "Message_v2",
    "Vote_v2",
    "Document",
    "Suggestion",
    "Stream",
    "Message",
    "Vote",
)


@pytest.fixture
async def legacy_pg(empty_pg: PgDatabase) -> PgDatabase:
    """The Next.js app's schema after its migrations 0000-0008, with rows it wrote."""
    conn = await asyncpg.connect(empty_pg.raw_url)
    try:
        await conn.execute(SCHEMA_SQL)
        await insert_legacy_data(conn)
    finally:
        await conn.close()
    return empty_pg


async def snapshot(db: PgDatabase) -> dict[str, Any]:
    """Everything the Next.js app can observe of its tables: columns (types, defaults,
    nullability, order), constraints, indexes, every row, and Drizzle's bookkeeping."""
    tables = list(LEGACY_TABLES)
    columns = await db.fetch(
        "SELECT table_name, column_name, ordinal_position, data_type, "
        "character_maximum_length, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = ANY($1) ORDER BY table_name, ordinal_position",
        tables,
    )
    constraints = await db.fetch(
        "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1) "
        "ORDER BY c.relname, k.conname",
        tables,
    )
    indexes = await db.fetch(
        "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY indexname",
        tables,
    )
    rows = {}
    for table in tables:
        records = await db.fetch(f'SELECT row_to_json(t)::text AS r FROM "{table}" t')
        rows[table] = sorted(record["r"] for record in records)
    drizzle = await db.fetch('SELECT id, hash, created_at FROM drizzle."__drizzle_migrations"')
    return {
        "columns": [tuple(r) for r in columns],
        "constraints": [tuple(r) for r in constraints],
        "indexes": {tuple(r) for r in indexes},
        "rows": rows,
        "drizzle": sorted(tuple(r) for r in drizzle),
    }
