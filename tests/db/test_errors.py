"""`database_unreachable` / `database_error`: which failures are a lost database (503, retry)
and which are the caller's data (400), whatever shape the driver gives them."""

from __future__ import annotations

import socket

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import exc as sa

from chatbot_api.core.errors import DatabaseError, DatabaseUnavailable
from chatbot_api.db.errors import database_error, database_unreachable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_raised_by_the_driver_is_unreachable() -> None:
    with pytest.raises(OSError) as raised:  # a plain ConnectionRefusedError, not asyncpg's
        await asyncpg.connect(host="127.0.0.1", port=_closed_port(), timeout=5)

    assert database_unreachable(raised.value)
    error = database_error(raised.value)
    assert isinstance(error, DatabaseUnavailable)
    assert (error.status, error.code, error.headers) == (
        503,
        "offline:database",
        {"Retry-After": "5"},
    )


async def test_connect_timeout_raised_by_the_driver_is_unreachable() -> None:
    with socket.socket() as listener:  # accepts in the kernel, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(TimeoutError) as raised:
            await asyncpg.connect(host="127.0.0.1", port=port, timeout=0.2)

    assert database_unreachable(raised.value)


def _reset_by_our_code() -> None:
    raise ConnectionResetError("an upstream that is not the database")


def test_os_errors_of_our_own_code_are_not_a_database_outage() -> None:
    with pytest.raises(ConnectionResetError) as raised:
        _reset_by_our_code()

    assert not database_unreachable(raised.value)
    assert not database_unreachable(TimeoutError())


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError("unexpected state"),
        sa.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        sa.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        sa.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sa.DBAPIError("SELECT 1", {}, Exception("lost"), connection_invalidated=True),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_driver_and_pool_failures_are_unreachable(exc: Exception) -> None:
    assert database_unreachable(exc)
    assert database_error(exc).status == 503


def test_a_wrapped_driver_failure_is_unreachable() -> None:
    lost = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    adapted = Exception("connection was closed")  # SQLAlchemy's adapter error, from asyncpg's
    adapted.__cause__ = lost
    wrapped = sa.DBAPIError("SELECT 1", {}, adapted)
    service = RuntimeError("could not list threads")
    service.__cause__ = lost

    assert database_unreachable(wrapped)
    assert database_unreachable(service)


@pytest.mark.parametrize(
    "exc",
    [
        sa.IntegrityError("INSERT", {}, Exception('duplicate key value violates "Chat_pkey"')),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.DataError("invalid input"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_constraint_and_data_errors_stay_400(exc: Exception) -> None:
    assert not database_unreachable(exc)
    error = database_error(exc)
    assert isinstance(error, DatabaseError)
    assert error.status == 400
    assert error.envelope() == {
        "code": "",
        "message": "Something went wrong. Please try again later.",
    }
