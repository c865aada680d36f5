"""The repository functions the chat turn reuses: save and read chats, messages and streams."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi import FastAPI

from chatbot_api.chats import repository
from chatbot_api.chats.models import Chat, Message
from tests.chats.helpers import at
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("db")


def message(chat_id: uuid.UUID, text: str, seconds: int, role: str = "user") -> Message:
    return Message(
        id=uuid.uuid4(),
        chat_id=chat_id,
        role=role,
        parts=[{"type": "text", "text": text}],
        attachments=[],
        created_at=at(seconds),
    )


async def test_saved_chat_and_messages_read_back_in_order(app: FastAPI) -> None:
    user = await make_user(app)
    chat_id = uuid.uuid4()
    async with app.state.session_factory() as session:
        await repository.save_chat(
            session, Chat(id=chat_id, user_id=user.id, title="New chat", created_at=at(0))
        )
        await repository.save_messages(
            session, [message(chat_id, "second", 2, "assistant"), message(chat_id, "first", 1)]
        )
        await repository.set_title(session, chat_id, "Weather in Paris")
        await session.commit()

    async with app.state.session_factory() as session:
        chat = await repository.get_chat(session, chat_id)
        messages = await repository.get_messages(session, chat_id)

    assert chat is not None
    assert chat.title == "Weather in Paris"
    assert chat.visibility == "private"
    assert [m.parts[0]["text"] for m in messages] == ["first", "second"]


async def test_update_message_parts_replaces_only_the_parts(app: FastAPI) -> None:
    user = await make_user(app)
    chat_id = uuid.uuid4()
    original = message(chat_id, "draft", 1, "assistant")
    async with app.state.session_factory() as session:
        await repository.save_chat(session, Chat(id=chat_id, user_id=user.id, title="t"))
        await repository.save_messages(session, [original])
        await session.commit()

    new_parts = [{"type": "text", "text": "final"}, {"type": "step-start"}]
    async with app.state.session_factory() as session:
        await repository.update_message_parts(session, original.id, new_parts)
        await session.commit()
    async with app.state.session_factory() as session:
        stored = await repository.get_message(session, original.id)

    assert stored is not None
    assert stored.parts == new_parts
    assert (stored.role, stored.created_at) == ("assistant", at(1))


async def test_stream_ids_come_back_oldest_first(app: FastAPI) -> None:
    user = await make_user(app)
    chat_id = uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    async with app.state.session_factory() as session:
        await repository.save_chat(session, Chat(id=chat_id, user_id=user.id, title="t"))
        await repository.create_stream(session, first, chat_id)
        await session.commit()
    await asyncio.sleep(0.005)  # timestamps have millisecond precision
    async with app.state.session_factory() as session:
        await repository.create_stream(session, second, chat_id)
        await session.commit()

    async with app.state.session_factory() as session:
        assert await repository.get_stream_ids(session, chat_id) == [first, second]
