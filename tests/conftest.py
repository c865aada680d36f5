"""Test harness: the real app on real migrations, on SQLite and on PostgreSQL, with real Redis.

Each pytest session gets its own PostgreSQL database (created from scratch and migrated),
so concurrent runs never collide; every test starts from empty tables. Under CI=true a
missing PostgreSQL or Redis fails the run; elsewhere those legs skip with the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatbot_api.core.config import Settings
from chatbot_api.db.engine import create_engine
from chatbot_api.db.migrate import upgrade_head
from chatbot_api.db.models import Base
from chatbot_api.main import create_app
from tests.outages.redis_server import RedisServer

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-jwt-secret-that-is-long-enough-0123456789"


def unavailable(what: str, reason: str) -> None:
    """Skip (laptop) or fail (CI) when a required service is missing."""
    message = f"{what} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true requires it)")
    pytest.skip(message)


@dataclass
class TestDatabase:
    __test__ = False  # a helper, not a test class
    backend: str
    url: str
    engine: AsyncEngine

    async def clean(self) -> None:
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        async with self.engine.begin() as conn:
            if self.backend == "postgresql":
                quoted = ", ".join(f'"{name}"' for name in tables)
                await conn.execute(text(f"TRUNCATE {quoted} CASCADE"))
            else:
                for name in tables:
                    await conn.execute(text(f'DELETE FROM "{name}"'))


async def _create_pg_database(name: str) -> str:
    import asyncpg  # type: ignore[import-untyped]

    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", f"{PG_ADMIN_URL}: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestDatabase]:
    """A migrated database of each backend, shared by the session."""
    backend: str = request.param
    pg_name = f"cbtest_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        raw = await _create_pg_database(pg_name)
        url = Settings(postgres_url=raw).database_url
    engine = create_engine(url)
    await upgrade_head(engine)
    yield TestDatabase(backend=backend, url=url, engine=engine)
    await engine.dispose()
    if backend == "postgresql":
        await _drop_pg_database(pg_name)


@pytest.fixture
async def db(database: TestDatabase) -> AsyncIterator[TestDatabase]:
    """The session's database, emptied after the test."""
    yield database
    await database.clean()


@pytest.fixture(scope="session")
async def redis_url() -> str:
    """The real Redis URL, or skip/fail when it is not reachable."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        unavailable("Redis", f"{REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, started (the test may stop, start or freeze it);
    never the machine's shared Redis."""
    server = RedisServer(tmp_path / "redis")
    try:
        server.start()
    except FileNotFoundError as exc:
        unavailable("redis-server", str(exc))
    try:
        yield server
    finally:
        server.stop()


def make_settings(db: TestDatabase, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "postgres_url": db.url,
        "data_dir": tmp_path / "data",
        "jwt_secret_key": TEST_SECRET,
        "redis_key_prefix": f"test:{uuid.uuid4().hex[:8]}:",
        "log_level": "WARNING",
        "demo_model_word_delay_ms": 0,  # the demo model streams at full speed in tests
        "llm_retry_base_seconds": 0.01,  # retries before the first token, without the wait
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change the app's settings."""
    return {}


@pytest.fixture
def settings(db: TestDatabase, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(db, tmp_path, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app with its lifespan running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
def clients_dir() -> Path:
    """tests/clients with its node_modules installed (`npm ci`), or skip/fail."""
    import shutil
    import subprocess

    path = Path(__file__).parent / "clients"
    if shutil.which("node") is None:
        unavailable("node", "not on PATH")
    if not (path / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=path, check=True)
    return path


def run_node(
    clients_dir: Path,
    script: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Any:
    """Run tests/clients/<script> with node; it prints one JSON document on stdout."""
    import json
    import subprocess

    proc = subprocess.run(
        ["node", str(clients_dir / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"node {script} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
        )
    return json.loads(proc.stdout)


asyncio_sleep = asyncio.sleep  # re-exported for tests that poll
