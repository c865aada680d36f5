"""What a database failure means to the client: `database_unreachable()` is the one rule that
tells "the database cannot be reached" (503) from the caller's bad data (400).

Drivers report a lost database in many shapes (a plain ConnectionResetError from asyncpg, a
TimeoutError while connecting, SQLAlchemy's wrappers), and every route must answer the same
503 for all of them, whether the error left a request's session or was raised elsewhere.
"""

from __future__ import annotations

from types import TracebackType

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa

from chatbot_api.core.errors import AppError, DatabaseError, DatabaseUnavailable

# What asyncpg raises where its connection is used directly (a lost connection can surface as
# an internal state error when the server ended it between two statements).
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
# Everything a database call can raise: SQLAlchemy's errors, the driver's, and the socket's
# (`database_error` then tells which of them are the caller's and which are an outage).
DATABASE_ERRORS = (sa.SQLAlchemyError, *DRIVER_ERRORS, OSError)

# asyncpg's errors that mean the server is gone, going, or refusing connections for now.
_DRIVER_UNREACHABLE = (
    asyncpg.PostgresConnectionError,  # incl. ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # e.g. "connection is closed"
    asyncpg.InternalClientError,
)

# SQLAlchemy's own: the pool gave no connection in time; the DBAPI's connection-level errors.
_SQLALCHEMY_UNREACHABLE = (sa.TimeoutError, sa.OperationalError, sa.InterfaceError)

_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite")


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) means the database could not be reached or was lost.

    A plain OSError or TimeoutError counts only when it was raised from inside the driver or
    SQLAlchemy, so that a storage or network error of another kind is not taken for one."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, (*_DRIVER_UNREACHABLE, *_SQLALCHEMY_UNREACHABLE)):
            return True
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError) and _raised_by_driver(current.__traceback__):
            return True
        wrapped = current.orig if isinstance(current, sa.DBAPIError) else None
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
        seen += 1
    return False


def _raised_by_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVER_MODULES:
            return True
        tb = tb.tb_next
    return False


def database_error(exc: BaseException) -> AppError:
    """The AppError a failed statement becomes: constraint and data errors are the caller's
    (400), an unreachable database is a 503 with Retry-After, anything else our own 503."""
    if isinstance(
        exc, sa.IntegrityError | asyncpg.IntegrityConstraintViolationError | asyncpg.DataError
    ) or (
        isinstance(exc, sa.DBAPIError)
        and type(exc.orig).__name__ in ("DataError", "InvalidTextRepresentationError")
    ):
        return DatabaseError(type(exc).__name__)
    if database_unreachable(exc):
        return DatabaseUnavailable(type(exc).__name__)
    return AppError(type(exc).__name__, code="offline:database")
