"""The engine's connection pool."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from chatbot_api.db.engine import create_engine
from tests.db.pg import PgDatabase


async def _backend_pid(conn: AsyncConnection) -> int:
    result = await conn.execute(text("SELECT pg_backend_pid()"))
    pid: int = result.scalar_one()
    return pid


async def test_pool_hands_out_the_connection_returned_last(empty_pg: PgDatabase) -> None:
    """LIFO: after a burst, sequential requests keep reusing one warm connection (its server
    backend, caches and prepared statements) instead of cycling through every pooled one."""
    engine = create_engine(empty_pg.url, pool_size=3, max_overflow=0)
    try:
        first, second = await engine.connect(), await engine.connect()
        first_pid, second_pid = await _backend_pid(first), await _backend_pid(second)
        await first.close()
        await second.close()  # returned last
        for _ in range(3):
            async with engine.connect() as conn:
                assert await _backend_pid(conn) == second_pid
        assert first_pid != second_pid
    finally:
        await engine.dispose()


async def test_pooled_connections_the_server_closed_are_replaced_on_checkout(
    empty_pg: PgDatabase,
) -> None:
    """The server ends every pooled connection while it is idle (a restart, a failover, an
    administrator): the next statement runs on a new one, without pre-ping, instead of failing."""
    engine = create_engine(empty_pg.url, pool_size=3, max_overflow=0)
    try:
        held = [await engine.connect() for _ in range(3)]
        pids = [await _backend_pid(conn) for conn in held]
        drivers = [(await conn.get_raw_connection()).driver_connection for conn in held]
        for conn in held:
            await conn.close()
        await empty_pg.execute(f"SELECT pg_terminate_backend(pid) FROM unnest(ARRAY{pids}) AS pid")
        for _ in range(100):  # until the client has read the server's goodbye, as when idle
            if all(driver is not None and driver.is_closed() for driver in drivers):
                break
            await asyncio.sleep(0.05)
        for _ in range(3):
            async with engine.connect() as conn:
                assert await _backend_pid(conn) not in pids
    finally:
        await engine.dispose()
