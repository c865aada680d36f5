"""`POST /api/chat` with assistant-ui's body and the simple body: the client's messages are the
context, frontend tools stream unexecuted, limits and ownership hold, odd bodies get a 400."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Chat, Message
from chatbot_api.chats.turn.request import TurnRequest
from tests.chats.aui_fakes import ANSWER, FRONTEND_TOOL, LOCATION_SCHEMA, chat_requests, scripted
from tests.chats.conftest import (
    assemble,
    send,
    stored_chat,
    stored_messages,
    text_of,
    turn_overrides,
    ui_message,
)
from tests.chats.helpers import count_rows
from tests.factories import make_chat, make_user
from tests.fakes.openai_server import FakeOpenAIServer

MODEL = "openai/gpt-4.1-mini"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default=scripted) as server:
        yield server


@pytest.fixture
def settings_overrides(
    upstream: FakeOpenAIServer, request: pytest.FixtureRequest
) -> dict[str, Any]:
    return turn_overrides(
        ai_gateway_api_key="test-gateway-key",
        ai_gateway_url=upstream.base_url,
        default_chat_model=MODEL,
        **getattr(request, "param", {}),
    )


def user_message(text: str = "Where am I?", message_id: str | None = None) -> dict[str, Any]:
    return {
        "id": message_id or uuid.uuid4().hex[:16],
        "role": "user",
        "parts": [{"type": "text", "text": text}],
    }


def aui_body(
    messages: list[dict[str, Any]], *, chat_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": chat_id or str(uuid.uuid4()),
        "messages": messages,
        "trigger": "submit-message",
        "system": "You are a location helper.",
        "tools": {
            FRONTEND_TOOL: {"description": "The user's location", "parameters": LOCATION_SCHEMA}
        },
        "callSettings": {"temperature": 7, "maxTokens": 10**9, "topP": 0.5},
        "config": {"apiKey": "sk-client", "baseUrl": "http://127.0.0.1:9/v1"},
        "metadata": {"custom": True},
    }
    body.update(extra)
    return body


async def test_frontend_tool_call_streams_unexecuted_and_finishes_with_tool_calls(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer, clients_dir: Path
) -> None:
    user = await make_user(app)
    body = aui_body([user_message()])
    response, chunks = await send(client, user, body)
    assert response.status_code == 200
    types = [c["type"] for c in chunks]
    assert [t for t in types if t.startswith("tool-")] == [
        "tool-input-start",
        "tool-input-delta",
        "tool-input-delta",
        "tool-input-available",
    ]
    available = next(c for c in chunks if c["type"] == "tool-input-available")
    assert (available["toolName"], available["input"]) == (FRONTEND_TOOL, {"precision": "city"})
    finish = chunks[-1]
    assert finish["type"] == "finish"
    assert finish["finishReason"] == "tool-calls"
    assert finish["messageMetadata"]["modelId"] == "fake-model"  # the model that answered
    assert finish["messageMetadata"]["usage"]["inputTokens"] == 30
    sent = chat_requests(upstream.requests)[0]
    assert sent["messages"][0] == {"role": "system", "content": "You are a location helper."}
    assert sent["temperature"] == 2.0
    assert sent["max_tokens"] == app.state.settings.max_output_tokens
    tools = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert tools[FRONTEND_TOOL]["parameters"] == LOCATION_SCHEMA
    assert "getWeather" in tools  # backend tools are offered too
    assembled = assemble(clients_dir, response.content, "ai7")["message"]
    tool_part = assembled["parts"][-1]
    assert tool_part["type"] == f"tool-{FRONTEND_TOOL}"
    assert tool_part["state"] == "input-available"
    assert "output" not in tool_part
    saved = await stored_messages(app, body["id"])
    assert [m.role for m in saved] == ["user", "assistant"]
    assert ui_message(saved[-1])["parts"] == assembled["parts"]


async def test_tool_result_in_the_next_request_continues_the_reply_with_text(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    first = user_message()
    body = aui_body([first])
    response, chunks = await send(client, user, body)
    reply_id = chunks[0]["messageId"]
    saved = await stored_messages(app, body["id"])
    parts = [dict(p) for p in saved[-1].parts]
    parts[-1].update(state="output-available", output={"city": "Paris"})
    assistant = {"id": reply_id, "role": "assistant", "parts": parts}
    response, chunks = await send(client, user, aui_body([first, assistant], chat_id=body["id"]))
    assert response.status_code == 200, response.text
    assert chunks[0] == {"type": "start", "messageId": reply_id}
    assert text_of(chunks) == ANSWER
    assert chunks[-1]["finishReason"] == "stop"
    sent = chat_requests(upstream.requests)[-1]["messages"]
    assert sent[-1]["role"] == "tool"
    assert "Paris" in sent[-1]["content"]
    saved = await stored_messages(app, body["id"])
    assert [m.role for m in saved] == ["user", "assistant"]
    tool_part = next(p for p in saved[-1].parts if p["type"] == f"tool-{FRONTEND_TOOL}")
    assert tool_part["state"] == "output-available"
    assert saved[-1].parts[-1]["text"] == ANSWER
    # The same answer again finds nothing pending.
    response, _ = await send(client, user, aui_body([first, assistant], chat_id=body["id"]))
    assert response.status_code == 400
    assert "no tool result" in response.json()["cause"]


async def test_model_content_envelope_is_unwrapped_for_the_model(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    first = user_message()
    body = aui_body([first])
    _, chunks = await send(client, user, body)
    saved = await stored_messages(app, body["id"])
    parts = [dict(p) for p in saved[-1].parts]
    envelope = {"__aui_modelContent": [{"type": "text", "text": "In Paris"}], "value": {"c": 1}}
    parts[-1].update(state="output-available", output=envelope)
    assistant = {"id": chunks[0]["messageId"], "role": "assistant", "parts": parts}
    await send(client, user, aui_body([first, assistant], chat_id=body["id"]))
    assert chat_requests(upstream.requests)[-1]["messages"][-1]["content"] == "In Paris"
    saved = await stored_messages(app, body["id"])
    tool_part = next(p for p in saved[-1].parts if p["type"] == f"tool-{FRONTEND_TOOL}")
    assert tool_part["output"] == envelope


async def test_client_messages_are_the_context_not_the_stored_history(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    chat_id = str(uuid.uuid4())
    await send(client, user, aui_body([user_message("Hello")], chat_id=chat_id, tools={}))
    edited = [user_message("An edited branch"), user_message("Hi again")]
    response, _ = await send(client, user, aui_body(edited, chat_id=chat_id, tools={}))
    assert response.status_code == 200
    sent = chat_requests(upstream.requests)[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == [
        [{"type": "text", "text": "An edited branch"}],
        [{"type": "text", "text": "Hi again"}],
    ] or [str(m["content"]) for m in sent if m["role"] == "user"] == [
        "An edited branch",
        "Hi again",
    ]
    assert len([m for m in await stored_messages(app, chat_id) if m.role == "user"]) == 2


async def test_config_model_name_picks_a_registry_model_and_unknown_is_400(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    body = aui_body([user_message("Hello")], tools={}, config={"modelName": "openai/gpt-5.2"})
    response, _ = await send(client, user, body)
    assert response.status_code == 200
    assert chat_requests(upstream.requests)[-1]["model"] == "openai/gpt-5.2"
    body = aui_body([user_message("Hello")], config={"modelName": "nope/unknown"})
    response, _ = await send(client, user, body)
    assert response.status_code == 400
    assert MODEL in response.json()["cause"]


@pytest.mark.parametrize(
    "settings_overrides", [{"allow_client_provider_config": True}], indirect=True
)
async def test_client_provider_config_is_used_only_when_allowed(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    config = {"apiKey": "sk-client", "baseUrl": upstream.base_url, "modelName": "client-model"}
    response, _ = await send(client, user, aui_body([user_message("Hello")], config=config))
    assert response.status_code == 200
    request = next(r for r in upstream.requests if r.json().get("model") == "client-model")
    assert request.headers["authorization"] == "Bearer sk-client"
    bad = {"baseUrl": "file:///etc/passwd", "modelName": "m"}
    response, _ = await send(client, user, aui_body([user_message("Hello")], config=bad))
    assert response.status_code == 400
    assert response.json()["cause"].startswith("config.baseUrl")


async def test_client_turn_counts_against_the_daily_limit(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.settings.regular_max_messages_per_day = 1
    user = await make_user(app)
    response, _ = await send(client, user, aui_body([user_message("Hello")], tools={}))
    assert response.status_code == 200
    response, _ = await send(client, user, aui_body([user_message("Again")], tools={}))
    assert response.status_code == 429
    response, _ = await send(client, user, {"messages": [{"role": "user", "content": "Hi"}]})
    assert response.status_code == 429


async def test_client_turn_into_a_foreign_chat_is_403(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    intruder = await make_user(app)
    chat = await make_chat(app, owner)
    response, _ = await send(client, intruder, aui_body([user_message()], chat_id=str(chat.id)))
    assert response.status_code == 403
    assert await count_rows(app, Message) == 0


async def test_non_uuid_id_maps_to_a_stable_chat_of_the_caller(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    for text in ("Hello", "Again"):
        body = aui_body([user_message(text)], chat_id="__LOCALID_abc", tools={})
        response, _ = await send(client, user, body)
        assert response.status_code == 200
    chat_id = TurnRequest(shape="assistant-ui", chat_ref="__LOCALID_abc").chat_id(user.id)
    chat = await stored_chat(app, chat_id)
    assert chat is not None
    assert chat.user_id == user.id
    assert await count_rows(app, Chat) == 1


async def test_simple_body_answers_with_the_ui_message_stream(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Hello"},
        ]
    }
    response, chunks = await send(client, user, body)
    assert response.status_code == 200
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert text_of(chunks) == "Hello from upstream."
    sent = chat_requests(upstream.requests)[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in sent["messages"][1:]] == ["user", "assistant", "user"]
    assert "getWeather" not in {t["function"]["name"] for t in sent.get("tools", [])}


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ({"hello": "world"}, "message (or messages)"),
        ([1, 2], "message"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 100_001}]}, "messages.0.content"),
    ],
)
async def test_body_of_no_known_shape_is_400_listing_the_shapes(
    db: Any, client: httpx.AsyncClient, body: Any, cause: str
) -> None:
    response = await client.post("/api/chat", json=body)  # before auth
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "bad_request:api"
    assert payload["cause"].startswith(cause)
    if cause in ("message", "message (or messages)", "messages") and "content" not in str(body):
        assert "ai-chatbot" in payload["cause"]
        assert "simple" in payload["cause"]


@pytest.mark.parametrize(
    ("tools", "cause"),
    [
        ({"bad name!": {"parameters": {"type": "object"}}}, "tools"),
        ({"getWeather": {"parameters": {"type": "object"}}}, "tools.getWeather"),
        ({"t": {"parameters": {"type": "string"}}}, "tools.t.parameters"),
        ({f"t{i}": {} for i in range(65)}, "tools"),
        ({"t": {"parameters": {"type": "object", "x": "y" * 40_000}}}, "tools.t.parameters"),
    ],
)
async def test_invalid_frontend_tools_are_400(
    db: Any, app: FastAPI, client: httpx.AsyncClient, tools: Any, cause: str
) -> None:
    user = await make_user(app)
    response, _ = await send(client, user, aui_body([user_message()], tools=tools))
    assert response.status_code == 400
    assert response.json()["cause"].startswith(cause)
    assert await count_rows(app, Message) == 0


async def test_plain_sdk_body_keeps_the_server_managed_history(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    chat_id = str(uuid.uuid4())
    body = {"id": chat_id, "messages": [user_message("Hello")], "trigger": "submit-message"}
    response, _ = await send(client, user, body)
    assert response.status_code == 200
    second = {
        "id": chat_id,
        "messages": [user_message("Only this")],
        "trigger": "submit-message",
    }
    await send(client, user, second)
    sent = chat_requests(upstream.requests)[-1]["messages"]
    assert len([m for m in sent if m["role"] == "user"]) == 2  # the stored first message too
