"""One unit of work per request: `SessionDep` commits on success and rolls back on error,
before the response starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.core.errors import AppError, DatabaseError


def session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    return factory


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_factory(request)() as session:
        try:
            yield session
            await session.commit()
        except AppError as exc:
            if exc.keeps_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except SQLAlchemyError as exc:
            await session.rollback()
            raise database_error(exc) from exc
        except BaseException:
            await session.rollback()
            raise


# What asyncpg raises where its connection is used directly (a lost connection can surface as
# an internal state error when the server ended it between two statements).
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
# Everything a database call can raise: SQLAlchemy's errors, the driver's, and the socket's.
DATABASE_ERRORS = (SQLAlchemyError, *DRIVER_ERRORS, OSError)


def database_error(exc: Exception) -> AppError:
    """Constraint and data errors are the caller's (400); a lost connection is ours (503).
    SQLAlchemy's errors, or asyncpg's where the driver connection is used directly."""
    if isinstance(
        exc, IntegrityError | asyncpg.IntegrityConstraintViolationError | asyncpg.DataError
    ) or (
        isinstance(exc, DBAPIError)
        and type(exc.orig).__name__ in ("DataError", "InvalidTextRepresentationError")
    ):
        return DatabaseError(type(exc).__name__)
    return AppError(type(exc).__name__, code="offline:database")


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
