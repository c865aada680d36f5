"""A throw-away PostgreSQL database per test, for schema lifecycle tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from chatbot_api.core.config import normalize_database_url
from tests.conftest import _create_pg_database, _drop_pg_database


@dataclass
class PgDatabase:
    raw_url: str  # the postgresql:// form the Next.js app is configured with
    url: str  # ours (postgresql+asyncpg://)

    async def execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.raw_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.raw_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


@pytest.fixture
async def empty_pg() -> AsyncIterator[PgDatabase]:
    """A new, empty PostgreSQL database of its own (dropped afterwards)."""
    name = f"cbmig_{uuid.uuid4().hex[:12]}"
    raw = await _create_pg_database(name)
    yield PgDatabase(raw_url=raw, url=normalize_database_url(raw))
    await _drop_pg_database(name)
