"""A chat turn with the offline demo model: the stream, what is saved, titles, usage, context."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from chatbot_api.chats.models import MessageUsage, Stream
from tests.chats.conftest import (
    assemble,
    chat_body,
    send,
    stored_chat,
    stored_messages,
    text_of,
    turn_overrides,
    ui_message,
    wait_for,
)
from tests.chats.helpers import count_rows
from tests.factories import make_user


@pytest.fixture
def settings_overrides(weather_api: Any) -> dict[str, Any]:
    return turn_overrides(weather_api)


async def test_post_chat_streams_a_reply_with_protocol_headers(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    response, chunks = await send(client, user, chat_body("Hello there"))
    assert response.status_code == 200
    for name, value in {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "connection": "keep-alive",
        "x-vercel-ai-ui-message-stream": "v1",
        "x-accel-buffering": "no",
    }.items():
        assert response.headers[name] == value
    assert chunks[0]["type"] == "start"
    uuid.UUID(chunks[0]["messageId"])
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert "demo" in text_of(chunks)


async def test_post_chat_saves_exactly_what_the_client_assembled(
    db: Any, app: FastAPI, client: httpx.AsyncClient, clients_dir: Path
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    response, chunks = await send(client, user, body)
    assembled = assemble(clients_dir, response.content)["message"]
    messages = await stored_messages(app, body["id"])
    assert [m.role for m in messages] == ["user", "assistant"]
    assert str(messages[0].id) == body["message"]["id"]
    assert messages[0].parts == body["message"]["parts"]
    assert ui_message(messages[1]) == {k: assembled[k] for k in ("id", "role", "parts")}
    assert assembled["id"] == chunks[0]["messageId"]


async def test_post_chat_new_chat_gets_a_transient_title_that_is_saved(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("What's the weather in Paris?", visibility="public")
    _, chunks = await send(client, user, body)
    titles = [c for c in chunks if c["type"] == "data-chat-title"]
    assert titles == [{"type": "data-chat-title", "data": "Weather in Paris", "transient": True}]
    chat = await stored_chat(app, body["id"])
    assert chat is not None
    assert chat.user_id == user.id
    assert chat.visibility == "public"
    assert chat.title == "Weather in Paris"
    assistant = (await stored_messages(app, body["id"]))[-1]
    assert not any(p["type"] == "data-chat-title" for p in assistant.parts)


async def test_post_chat_second_turn_uses_stored_history_and_keeps_title(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    first = chat_body("Write an essay about the ocean")
    await send(client, user, first)
    second = chat_body("Make it shorter", chat_id=first["id"])
    response, chunks = await send(client, user, second)
    assert response.status_code == 200
    calls = [c for c in chunks if c["type"] == "tool-input-available"]
    assert calls[0]["toolName"] == "updateDocument"  # found the document in the history
    assert not any(c["type"] == "data-chat-title" for c in chunks)
    chat = await stored_chat(app, first["id"])
    assert chat is not None
    assert chat.title == "Essay About the Ocean"
    assert len(await stored_messages(app, first["id"])) == 4


async def test_post_chat_records_usage_and_a_stream_row(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    _, chunks = await send(client, user, body)
    async with app.state.session_factory() as session:
        usage = await session.get(MessageUsage, uuid.UUID(chunks[0]["messageId"]))
        streams = (await session.scalars(select(Stream))).all()
    assert usage is not None
    assert usage.model_id == "demo"  # the model that answered, counting no tokens
    assert usage.user_id == user.id
    assert (usage.input_tokens, usage.output_tokens) == (0, 0)
    assert [str(s.chat_id) for s in streams] == [body["id"]]


async def test_post_chat_reasoning_model_streams_reasoning_and_offers_no_tools(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("What's the weather in Paris?", model="chat-model-reasoning")
    _, chunks = await send(client, user, body)
    types = [c["type"] for c in chunks]
    assert "reasoning-delta" in types
    assert types.index("reasoning-start") < types.index("text-start")
    assert not any(t.startswith("tool-") for t in types)
    assistant = (await stored_messages(app, body["id"]))[-1]
    assert [p["type"] for p in assistant.parts] == ["step-start", "reasoning", "text"]


async def test_post_chat_default_model_is_used_when_none_is_selected(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there", model=None)
    response, chunks = await send(client, user, body)
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"
    async with app.state.session_factory() as session:
        usage = await session.get(MessageUsage, uuid.UUID(chunks[0]["messageId"]))
    assert usage is not None
    assert app.state.models.resolve(app.state.models.default_chat_model).is_demo
    assert usage.model_id == "demo"  # the default model, answered by the demo here


async def test_post_chat_accepts_the_sdk_default_body(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    chat_id = str(uuid.uuid4())
    body = {
        "id": chat_id,
        "messages": [
            {"id": "shortClientId1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}
        ],
        "trigger": "submit-message",
    }
    response, chunks = await send(client, user, body)
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"
    messages = await stored_messages(app, chat_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    response, _ = await send(client, user, body)  # the same client message again
    assert response.status_code == 400


async def test_post_chat_reply_is_saved_before_the_stream_ends(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    await send(client, user, body)
    assert await count_rows(app, MessageUsage) == 1
    assert len(await wait_for(lambda: stored_messages(app, body["id"]), 0.01)) == 2


async def test_post_chat_sdk_regenerate_replaces_the_last_reply(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    chat_id = str(uuid.uuid4())
    question = {"id": "clientMsg1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}
    body = {"id": chat_id, "messages": [question], "trigger": "submit-message"}
    _, first = await send(client, user, body)
    regenerate = {**body, "trigger": "regenerate-message", "messageId": first[0]["messageId"]}
    response, second = await send(client, user, regenerate)
    assert response.status_code == 200
    messages = await stored_messages(app, chat_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert str(messages[1].id) == second[0]["messageId"] != first[0]["messageId"]
