"""Saving a turn's reply is idempotent per turn: a retried save writes nothing twice, a
producer's save replaces a recovery's, and only the producer's adds the turn's usage."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import insert

from chatbot_api.chats.models import Chat, Message, MessageUsage, Stream, StreamReply
from chatbot_api.chats.turn import store
from chatbot_api.db.types import utcnow
from tests.chats.helpers import count
from tests.factories import TestUser, make_chat, make_message, make_user


def _row(user: TestUser, chat_id: uuid.UUID, stream_id: uuid.UUID, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "stream_id": stream_id,
        "chat_id": chat_id,
        "user_id": user.id,
        "message_id": fields.pop("message_id", uuid.uuid4()),
        "parts": [{"type": "text", "text": "Hello"}],
        "continues": False,
        "model_id": "m",
        "usage": {"inputTokens": 3, "outputTokens": 5, "reasoningTokens": None,
                  "cachedInputTokens": 1},
        "title": None,
        "saved_by": "turn",
        "created_at": utcnow(),
    }  # fmt: skip
    values.update(fields)
    return store.ReplyRow(**values)


async def _save(app: FastAPI, row: Any) -> bool:
    async with app.state.session_factory() as session:
        saved = await store.save_reply(session, row)
        await session.commit()
    return saved


async def _stream(app: FastAPI, chat_id: uuid.UUID) -> uuid.UUID:
    stream_id = uuid.uuid4()
    async with app.state.session_factory() as session:
        await session.execute(
            insert(Stream).values(id=stream_id, chat_id=chat_id, created_at=utcnow())
        )
        await session.commit()
    return stream_id


async def _usage(app: FastAPI, message_id: uuid.UUID) -> tuple[int, int, int | None] | None:
    async with app.state.session_factory() as session:
        usage = await session.get(MessageUsage, message_id)
    return (
        None
        if usage is None
        else (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens)
    )


async def test_a_reply_saved_twice_is_written_once_with_its_usage_and_title(
    db: Any, app: FastAPI
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    row = _row(user, chat.id, await _stream(app, chat.id), title="A title")
    assert await _save(app, row) is True
    assert await _save(app, row) is False  # a retry after a commit whose answer was lost
    assert await count(app, Message, Message.role == "assistant") == 1
    assert await _usage(app, row.message_id) == (3, 5, 1)
    async with app.state.session_factory() as session:
        stored = await session.get(Chat, chat.id)
    assert stored is not None
    assert stored.title == "A title"


async def test_the_producers_save_replaces_a_recoverys_and_adds_the_usage(
    db: Any, app: FastAPI
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    stream_id = await _stream(app, chat.id)
    message_id = uuid.uuid4()
    recovered = _row(user, chat.id, stream_id, message_id=message_id, saved_by="recovery",
                     parts=[{"type": "text", "text": "Hel"}])  # fmt: skip
    assert await _save(app, recovered) is True
    assert await _usage(app, message_id) is None
    produced = _row(user, chat.id, stream_id, message_id=message_id)
    assert await _save(app, produced) is True
    assert await _save(app, recovered) is False  # a late recovery changes nothing
    async with app.state.session_factory() as session:
        message = await session.get(Message, message_id)
        mark = await session.get(StreamReply, stream_id)
    assert message is not None
    assert message.parts == produced.parts
    assert mark is not None
    assert mark.saved_by == "turn"
    assert await _usage(app, message_id) == (3, 5, 1)


async def test_a_continued_reply_adds_this_turns_usage_once(db: Any, app: FastAPI) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    first = _row(user, chat.id, await _stream(app, chat.id))
    await _save(app, first)
    continued = _row(user, chat.id, await _stream(app, chat.id), message_id=first.message_id,
                     continues=True, parts=[{"type": "text", "text": "Hello again"}])  # fmt: skip
    assert await _save(app, continued) is True
    assert await _save(app, continued) is False
    assert await _usage(app, first.message_id) == (6, 10, 2)
    assert await make_message(app, chat)  # the chat is still writable (no lock left behind)
