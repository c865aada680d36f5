"""One unit of work per request: `SessionDep` commits on success and rolls back on error,
before the response starts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.core.errors import AppError
from chatbot_api.db.errors import DRIVER_ERRORS, database_error, database_unreachable

__all__ = ["DRIVER_ERRORS", "SessionDep", "database_error", "get_session", "session_factory"]


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
        except Exception as exc:
            if not isinstance(exc, SQLAlchemyError) and not database_unreachable(exc):
                await session.rollback()
                raise
            # A lost connection cannot roll back; its failure must not hide the first error.
            with contextlib.suppress(Exception):
                await session.rollback()
            raise database_error(exc) from exc
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
