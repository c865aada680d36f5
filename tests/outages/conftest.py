"""Outage fixtures: the app built on the PostgreSQL test database through a proxy the test cuts.

Request these tests' PostgreSQL leg only (`pytest.mark.parametrize("database",
["postgresql"], indirect=True)`): SQLite has no connection to lose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import TestDatabase
from tests.outages.pg_proxy import PgProxy, pg_proxy

# Short bounds, so that a blackholed database costs each request about a second.
OUTAGE_TIMEOUTS: dict[str, Any] = {
    "db_pool_timeout_seconds": 1.0,
    "db_connect_timeout_seconds": 1.0,
    "db_statement_timeout_seconds": 1.0,
}


@pytest.fixture
async def pg(db: TestDatabase) -> AsyncIterator[PgProxy]:
    """A proxy in front of the session's PostgreSQL test database."""
    assert db.backend == "postgresql", "outage tests run on the PostgreSQL leg only"
    async with pg_proxy(db.url) as proxy:
        yield proxy


@pytest.fixture
def settings_overrides(db: TestDatabase, pg: PgProxy) -> dict[str, Any]:
    """The app reaches its database through the proxy only."""
    return {"postgres_url": pg.url(db.url), **OUTAGE_TIMEOUTS}
