"""The turn's own short database writes: the assistant reply, its token usage, the chat title."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.ai.base import Usage
from chatbot_api.chats import repository
from chatbot_api.chats.models import Message, MessageUsage
from chatbot_api.db.types import utcnow

log = structlog.get_logger("chatbot_api.turn")


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """What to save when a turn ends."""

    chat_id: uuid.UUID
    user_id: uuid.UUID
    message_id: uuid.UUID
    parts: list[dict[str, Any]]
    existing: bool  # an approval continuation updates the stored assistant message
    model_id: str
    usage: Usage


def has_content(parts: list[dict[str, Any]]) -> bool:
    """A reply worth saving: anything beyond step markers (an early error leaves none)."""
    return any(part.get("type") != "step-start" for part in parts)


async def save_reply(factory: async_sessionmaker[AsyncSession], record: ReplyRecord) -> bool:
    """Insert (or update) the assistant message and add its usage. False if nothing saved."""
    if not record.existing and not has_content(record.parts):
        return False
    try:
        async with factory() as session:
            if record.existing:
                await repository.update_message_parts(session, record.message_id, record.parts)
            else:
                await repository.save_messages(session, [_assistant_row(record)])
            await _add_usage(session, record)
            await session.commit()
    except SQLAlchemyError:
        log.exception("saving the reply failed", chat_id=str(record.chat_id))
        return False
    return True


def _assistant_row(record: ReplyRecord) -> Message:
    return Message(
        id=record.message_id,
        chat_id=record.chat_id,
        role="assistant",
        parts=record.parts,
        attachments=[],
        created_at=utcnow(),
    )


async def _add_usage(session: AsyncSession, record: ReplyRecord) -> None:
    usage = record.usage
    row = await session.scalar(
        select(MessageUsage).where(MessageUsage.message_id == record.message_id)
    )
    if row is None:
        session.add(
            MessageUsage(
                message_id=record.message_id,
                chat_id=record.chat_id,
                user_id=record.user_id,
                model_id=record.model_id[:200],
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cached_input_tokens=usage.cached_input_tokens,
            )
        )
        await session.flush()
        return
    row.model_id = record.model_id[:200]
    row.input_tokens += usage.input_tokens
    row.output_tokens += usage.output_tokens
    if usage.reasoning_tokens is not None:
        row.reasoning_tokens = (row.reasoning_tokens or 0) + usage.reasoning_tokens
    if usage.cached_input_tokens is not None:
        row.cached_input_tokens = (row.cached_input_tokens or 0) + usage.cached_input_tokens


async def save_title(
    factory: async_sessionmaker[AsyncSession], chat_id: uuid.UUID, title: str
) -> None:
    try:
        async with factory() as session:
            await repository.set_title(session, chat_id, title)
            await session.commit()
    except SQLAlchemyError:
        log.exception("saving the chat title failed", chat_id=str(chat_id))


def add_usage(total: Usage, step: Usage) -> None:
    """Accumulate one step's usage into the turn's."""
    total.input_tokens += step.input_tokens
    total.output_tokens += step.output_tokens
    if step.reasoning_tokens is not None:
        total.reasoning_tokens = (total.reasoning_tokens or 0) + step.reasoning_tokens
    if step.cached_input_tokens is not None:
        total.cached_input_tokens = (total.cached_input_tokens or 0) + step.cached_input_tokens
