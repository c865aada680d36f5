"""Turns on the provider path: an OpenAI-compatible upstream (the AI Gateway's API), faked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from chatbot_api.ai import prompts
from chatbot_api.chats.models import MessageUsage
from chatbot_api.core.config import Settings
from tests.chats.conftest import (
    assemble,
    chat_body,
    live_server,
    send,
    stored_messages,
    text_of,
    turn_overrides,
    ui_message,
    wait_for,
)
from tests.factories import make_chat, make_user
from tests.fakes.http import RecordedRequest, Reply
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    error_reply,
    stream_reply,
    text_stream,
    tool_call_chunks,
)

MODEL = "openai/gpt-4.1-mini"


def _system(request: RecordedRequest) -> str:
    messages = request.json()["messages"]
    return str(messages[0]["content"]) if messages and messages[0]["role"] == "system" else ""


def _is_chat(request: RecordedRequest) -> bool:
    return _system(request).startswith(prompts.REGULAR_PROMPT)


def scripted(request: RecordedRequest) -> Reply:
    """Titles get a title; documents get text; the chat model answers from its tools' state."""
    system = _system(request)
    if system == prompts.TITLE_PROMPT:
        return stream_reply(text_stream(["Fake ", "Title"]))
    if not _is_chat(request):
        return stream_reply(text_stream(["# Doc\n", "Body text."]))
    messages = request.json()["messages"]
    last = messages[-1]["content"] if messages[-1]["role"] == "user" else ""
    if "document" in str(last) and request.json().get("tools"):
        args = ['{"title": "Notes", ', '"kind": "text"}']
        return stream_reply(
            [*tool_call_chunks(0, "call_1", "createDocument", args), *_finish("tool_calls")]
        )
    looping = "loop" in str(messages[1]["content"])
    if looping and request.json().get("tools"):
        args = [f'{{"id": "{uuid.uuid4()}", "description": "again"}}']
        call = tool_call_chunks(0, f"call_{len(messages)}", "updateDocument", args)
        return stream_reply([*call, *_finish("tool_calls")])
    return stream_reply(text_stream(["Hello ", "from ", "upstream."], usage=(12, 3)))


def _finish(reason: str) -> list[dict[str, Any]]:
    return [
        {"id": "c", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]},
    ]  # fmt: skip


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default=scripted) as server:
        yield server


@pytest.fixture
def settings_overrides(upstream: FakeOpenAIServer) -> dict[str, Any]:
    return turn_overrides(
        ai_gateway_api_key="test-gateway-key",
        ai_gateway_url=upstream.base_url,
        llm_idle_timeout_seconds=1.0,
    )


def _chat_requests(upstream: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r.json() for r in upstream.requests if _is_chat(r)]


async def test_provider_turn_streams_and_saves_what_the_client_assembled(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer, clients_dir: Path
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there", model=MODEL)
    response, chunks = await send(client, user, body)
    assert text_of(chunks) == "Hello from upstream."
    assert next(c for c in chunks if c["type"] == "data-chat-title")["data"] == "Fake Title"
    assembled = assemble(clients_dir, response.content)["message"]
    saved = (await stored_messages(app, body["id"]))[-1]
    assert ui_message(saved)["parts"] == assembled["parts"]
    sent = _chat_requests(upstream)[0]
    assert sent["model"] == MODEL
    assert sent["stream"] is True
    assert sent["messages"][-1]["role"] == "user"
    assert "Hello there" in orjson.dumps(sent["messages"][-1]).decode()
    assert {tool["function"]["name"] for tool in sent["tools"]} == {
        "getWeather",
        "createDocument",
        "updateDocument",
        "requestSuggestions",
    }
    async with app.state.session_factory() as session:
        usage = await session.get(MessageUsage, saved.id)
    assert usage is not None
    # the model the upstream says answered (the fake's chunks name `fake-model`)
    assert (usage.model_id, usage.input_tokens, usage.output_tokens) == ("fake-model", 12, 3)


async def test_provider_tool_call_runs_the_tool_and_feeds_the_result_back(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    body = chat_body("Please write a document", model=MODEL)
    _, chunks = await send(client, user, body)
    types = [c["type"] for c in chunks]
    assert types.count("start-step") == 2
    assert "data-textDelta" in types
    assert text_of(chunks) == "Hello from upstream."
    second = _chat_requests(upstream)[1]["messages"]
    assert second[-2]["role"] == "assistant"
    assert second[-2]["tool_calls"][0]["function"]["name"] == "createDocument"
    assert second[-1]["role"] == "tool"
    assert "A document was created" in second[-1]["content"]


async def test_provider_turn_stops_after_five_steps_with_a_text_answer(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    _, chunks = await send(client, user, chat_body("loop forever", model=MODEL))
    requests = _chat_requests(upstream)
    assert len(requests) == 5
    assert all(r.get("tools") for r in requests[:4])
    assert not requests[4].get("tools")
    assert [c["type"] for c in chunks].count("start-step") == 5
    assert text_of(chunks) == "Hello from upstream."
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}


async def test_provider_http_error_becomes_a_short_error_chunk(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    secret = "internal-trace-id-42 do not show"
    # 1 + 2 retries (LLM_MAX_RETRIES) before the error ends the turn.
    upstream.queue(*[error_reply(500, {"error": {"message": secret}})] * 3)
    chat = await make_chat(app, user)  # an existing chat: no title request takes the error
    response, chunks = await send(client, user, chat_body("Hi", chat_id=chat.id, model=MODEL))
    assert response.status_code == 200
    errors = [c for c in chunks if c["type"] == "error"]
    assert len(errors) == 1
    assert secret not in response.text
    assert chunks[-1] == {"type": "finish", "finishReason": "error"}
    response, chunks = await send(client, user, chat_body("Again", model=MODEL))
    assert text_of(chunks) == "Hello from upstream."


async def test_provider_stall_is_cut_by_the_idle_timeout(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    events = text_stream(["Slow ", "start ", "never ", "ends"])
    upstream.queue(stream_reply(events, stall_after=3, stall_seconds=30))
    chat = await make_chat(app, user)
    body = chat_body("Hello there", chat_id=chat.id, model=MODEL)
    began = time.monotonic()
    _, chunks = await asyncio.wait_for(send(client, user, body), 15)
    assert time.monotonic() - began < 10
    assert [c["type"] for c in chunks if c["type"] == "error"] == ["error"]
    saved = (await stored_messages(app, body["id"]))[-1]
    assert saved.parts[-1]["text"] == "Slow start "


async def test_stop_closes_the_upstream_request_within_a_second(
    db: Any, app: FastAPI, settings: Settings, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    pieces = [f"w{i} " for i in range(200)]
    upstream.queue(stream_reply(text_stream(pieces), stall_after=5, stall_seconds=60))
    chat = await make_chat(app, user)
    body = chat_body("Hello there", chat_id=chat.id, model=MODEL)
    with live_server(settings) as base_url:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
            http.stream("POST", "/api/chat", json=body, headers=user.headers) as reply,
        ):
            received = b""
            async for data in reply.aiter_bytes():
                received += data
                if received.count(b'"text-delta"') >= 2:
                    break
            stopped = await http.post(f"/api/chat/{body['id']}/stop", headers=user.headers)
            assert stopped.json() == {"stopped": True}
            began = time.monotonic()
            disconnected = await asyncio.to_thread(upstream.wait_for_disconnect, 1.0)
            assert disconnected
            assert time.monotonic() - began < 1.0
    saved = await wait_for(lambda: stored_messages(app, body["id"]), 5)
    assert saved[-1].role == "assistant"
    assert saved[-1].parts[-1]["text"].startswith("w0 w1 ")


async def test_a_refused_message_never_reaches_the_model(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    """The model request starts only once the turn is admitted: a refused message sends the
    upstream nothing, not even a request's start."""
    owner = await make_user(app)
    intruder = await make_user(app)
    chat = await make_chat(app, owner)
    whole, heads = len(upstream.requests), upstream.heads
    for _ in range(2):
        response, _chunks = await send(
            client, intruder, chat_body("Mine now", chat_id=chat.id, model=MODEL)
        )
        assert response.status_code == 403
    await asyncio.sleep(0.1)
    assert len(upstream.requests) == whole
    assert upstream.heads == heads
    response, chunks = await send(client, intruder, chat_body("My own chat", model=MODEL))
    assert response.status_code == 200
    assert text_of(chunks) == "Hello from upstream."
    assert _chat_requests(upstream)[-1]["messages"][-1]["content"] == "My own chat"


async def test_provider_request_carries_hints_images_and_history(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    image = {
        "type": "file",
        "mediaType": "image/png",
        "name": "cat.png",
        "url": "https://x.io/cat.png",
    }
    first = chat_body("Who is this?", model=MODEL, parts=[image, {"type": "text", "text": "Who?"}])
    headers = {**user.headers, "x-vercel-ip-city": "S%C3%A3o%20Paulo", "x-vercel-ip-country": "BR"}
    response = await client.post("/api/chat", json=first, headers=headers)
    assert response.status_code == 200
    await send(client, user, chat_body("And now?", chat_id=first["id"], model=MODEL))
    sent = _chat_requests(upstream)
    system = sent[0]["messages"][0]["content"]
    assert "city: São Paulo" in system
    assert "country: BR" in system
    assert "lat: undefined" in system
    user_content = orjson.dumps(sent[0]["messages"][1]).decode()
    assert "https://x.io/cat.png" in user_content
    roles = [m["role"] for m in sent[1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert sent[1]["messages"][2]["content"] == "Hello from upstream."
