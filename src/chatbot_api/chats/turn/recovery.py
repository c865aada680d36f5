"""Ending the turn of a worker that died, from its stream log: every reader gets an error and
a balanced end, and the reply is saved as they saw it."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.chats.turn import store
from chatbot_api.chats.turn.admission import ui_message
from chatbot_api.chats.turn.deps import Turns
from chatbot_api.chats.turn.replies import ReplySaver
from chatbot_api.chats.turn.store import ReplyRow
from chatbot_api.db.errors import DATABASE_ERRORS
from chatbot_api.db.types import utcnow
from chatbot_api.streaming.replay import cut_short_ending, replay

log = structlog.get_logger("chatbot_api.turn")

INTERRUPTED = "The reply was interrupted. Please try again."
_NO_USAGE = {
    "inputTokens": 0,
    "outputTokens": 0,
    "reasoningTokens": None,
    "cachedInputTokens": None,
}


class TurnRecovery:
    """The stream log's recovery hook: given a dead turn's log, the chunks that end it; the
    partial reply is saved in the background (`savedBy: recovery`, so should its producer
    still save, the producer's wins)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        replies: ReplySaver,
        turns: Turns,
    ) -> None:
        self._factory = session_factory
        self._replies = replies
        self._turns = turns

    async def __call__(self, stream_id: str, meta: bytes, events: bytes) -> bytes:
        info: dict[str, Any] = orjson.loads(meta)
        continuing = await self._continued(uuid.UUID(info["reply"])) if info["continues"] else None
        writer = replay(events, continuing)
        ending = cut_short_ending(writer, INTERRUPTED)
        log.warning("a turn's worker died: its reply was ended", stream_id=stream_id)
        if continuing is None and info["continues"]:
            return ending  # the continued message could not be read: it stays as it was
        row = ReplyRow(
            stream_id=uuid.UUID(stream_id),
            chat_id=uuid.UUID(info["chat"]),
            user_id=uuid.UUID(info["user"]),
            message_id=uuid.UUID(info["reply"]),
            parts=writer.message_parts(),
            continues=bool(info["continues"]),
            model_id=str(info["model"]),
            usage=dict(_NO_USAGE),
            title=info.get("title"),
            saved_by="recovery",
            created_at=utcnow(),
        )
        self._turns.spawn(self._replies.save(row), name="recovered-reply")
        return ending

    async def _continued(self, message_id: uuid.UUID) -> dict[str, Any] | None:
        """The stored message the dead turn continued (as its admission left it)."""
        try:
            async with self._factory() as session:
                message = await store.get_message(session, message_id)
        except DATABASE_ERRORS as exc:
            log.warning("the continued message could not be read", error=repr(exc))
            return None
        return ui_message(message, message.parts) if message is not None else None
