"""Saving a turn's reply: at once, or, while the database cannot be reached, later from the
pending replies (retried with backoff); once per turn however often it is tried."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.chats.turn import store
from chatbot_api.chats.turn.pending import PendingReplies
from chatbot_api.chats.turn.store import ReplyRow
from chatbot_api.db.errors import DATABASE_ERRORS, database_error

log = structlog.get_logger("chatbot_api.turn")

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0


class ReplySaver:
    """Saves replies (`save`) and, in `run` (a task of the app), the replies still pending:
    at once when one is added, then with backoff while the database stays unreachable."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        pending: PendingReplies,
        *,
        first_delay: float = RETRY_FIRST_SECONDS,
        max_delay: float = RETRY_MAX_SECONDS,
    ) -> None:
        self._factory = session_factory
        self._pending = pending
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._added = asyncio.Event()

    async def save(self, row: ReplyRow) -> bool:
        """True once the reply is in the database (by this call or an earlier one); False
        when it waits in the pending replies, or cannot be saved at all (its chat is gone)."""
        try:
            await self._save(row)
        except DATABASE_ERRORS as exc:
            if not _unreachable(exc):
                log.warning("the reply cannot be saved", chat_id=str(row.chat_id), error=repr(exc))
                return False
            log.warning(
                "the database is unreachable: the reply waits to be saved",
                chat_id=str(row.chat_id),
                error=repr(exc),
            )
            await self._pending.put(str(row.stream_id), encode(row))
            self._added.set()
            return False
        return True

    async def save_title(self, chat_id: uuid.UUID, title: str) -> None:
        try:
            async with self._factory() as session:
                await store.set_title(session, chat_id, title)
                await session.commit()
        except DATABASE_ERRORS as exc:
            log.warning("saving the chat title failed", chat_id=str(chat_id), error=repr(exc))

    async def _save(self, row: ReplyRow) -> None:
        async with self._factory() as session:
            await store.save_reply(session, row)
            await session.commit()

    async def run(self) -> None:
        """Forever: save the pending replies; while the database stays unreachable, wait
        longer each time (up to `max_delay`)."""
        delay = self._first_delay
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._added.wait(), delay)
            self._added.clear()
            if await self.retry_pending():
                delay = self._first_delay
            else:
                delay = min(delay * 2, self._max_delay)

    async def retry_pending(self) -> bool:
        """Save what is pending; False if the database is still unreachable."""
        for key, record in await self._pending.items():
            try:
                await self._save(decode(record))
            except DATABASE_ERRORS as exc:
                if _unreachable(exc):
                    return False
                log.warning("a pending reply cannot be saved; dropped", key=key, error=repr(exc))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("a pending reply is unreadable; dropped", key=key, error=repr(exc))
            else:
                log.info("a pending reply was saved", key=key)
            await self._pending.remove(key)
        return True


def _unreachable(exc: Exception) -> bool:
    """A failure to reach the database, not of the reply itself (e.g. its chat is gone)."""
    return database_error(exc).status == 503


def encode(row: ReplyRow) -> bytes:
    return orjson.dumps(asdict(row))


def decode(record: bytes) -> ReplyRow:
    data: dict[str, Any] = orjson.loads(record)
    for name in ("stream_id", "chat_id", "user_id", "message_id"):
        data[name] = uuid.UUID(data[name])
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    return ReplyRow(**data)
