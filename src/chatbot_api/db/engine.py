"""Engine and session factory, built in the app lifespan (never at import time)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    echo: bool = False,
    pre_ping: bool = False,
    recycle: int = 1800,
    pool_timeout: float = 30.0,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite, foreign keys on, WAL).

    No pre-ping by default: it costs three round trips on every checkout, a connection the
    server closed is replaced on checkout without one (`_replace_closed_connection`), and one
    that broke silently is invalidated by SQLAlchemy on its first error. The pool is LIFO: after a
    burst, sequential requests keep reusing the connection returned last (its server backend,
    caches and prepared statements warm) instead of cycling through every pooled connection.

    PostgreSQL: `connect_timeout` bounds opening a connection and `statement_timeout` every
    statement (client-side, so a database that stopped answering cannot hang a request);
    None keeps asyncpg's defaults (60 s to connect, statements unbounded), as migrations want.
    """
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        connect_args: dict[str, float] = {}
        if connect_timeout is not None:
            connect_args["timeout"] = connect_timeout
        if statement_timeout is not None:
            connect_args["command_timeout"] = statement_timeout
        kwargs.update(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=pre_ping,
            pool_recycle=recycle,
            pool_timeout=pool_timeout,
            pool_use_lifo=True,
            connect_args=connect_args,
        )
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine.sync_engine, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(_dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """A pooled connection that the server closed while it sat idle (a restart, a failover, an
    outage) is replaced on checkout, with every older one. Why: asyncpg already knows it is
    closed, so this costs no round trip, and the first request after the database returns
    does not fail on it."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise InvalidatePoolError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
