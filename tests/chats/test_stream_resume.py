"""Turns over real HTTP: independent of the connection, resumable from the start, stoppable."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from chatbot_api.ai.base import ModelEvent, ModelRequest, StepFinish, TextDelta, Usage
from chatbot_api.core.config import Settings
from chatbot_api.main import create_app
from tests.chats.conftest import (
    chat_body,
    live_server,
    parse_sse,
    stored_messages,
    turn_overrides,
    wait_for,
)
from tests.factories import TestUser, make_chat, make_user
from tests.fakes.open_meteo import serve_in_thread


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return turn_overrides(demo_model_word_delay_ms=40)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as base_url:
        yield base_url


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    buffer = b""
    async for data in response.aiter_bytes():
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            payload = event.removeprefix(b"data: ")
            if payload != b"[DONE]":
                yield orjson.loads(payload)


async def _read_until(
    events: AsyncIterator[dict[str, Any]], kind: str, count: int = 1
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async for chunk in events:
        seen.append(chunk)
        if sum(1 for c in seen if c["type"] == kind) >= count:
            break
    return seen


async def _assistant_text(app: FastAPI, chat_id: str) -> str | None:
    messages = await stored_messages(app, chat_id)
    if len(messages) < 2:
        return None
    return "".join(p.get("text", "") for p in messages[-1].parts if p["type"] == "text")


async def test_client_disconnect_does_not_stop_the_turn(
    db: Any, app: FastAPI, server: str, http_client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    async with http_client.stream(
        "POST", f"{server}/api/chat", json=body, headers=user.headers
    ) as response:
        await _read_until(_events(response), "text-delta", 2)
    # The connection is gone; the producer finishes and saves the whole reply.
    text = await wait_for(lambda: _assistant_text(app, body["id"]), 15)
    assert text is not None
    assert text.endswith("thinking.")


async def test_resume_replays_the_live_stream_from_start(
    db: Any, app: FastAPI, server: str, http_client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    url = f"{server}/api/chat"
    async with http_client.stream("POST", url, json=body, headers=user.headers) as response:
        events = _events(response)
        first = await _read_until(events, "text-delta", 3)
        resumed = await http_client.get(f"{url}/{body['id']}/stream", headers=user.headers)
        rest = [chunk async for chunk in events]
    assert resumed.status_code == 200
    assert resumed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert parse_sse(resumed.content) == first + rest
    after = await http_client.get(f"{url}/{body['id']}/stream", headers=user.headers)
    assert after.status_code == 204


async def test_resume_checks_the_chat(
    db: Any, app: FastAPI, server: str, http_client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    other = await make_user(app)
    private = await make_chat(app, owner)
    public = await make_chat(app, owner, visibility="public")
    url = f"{server}/api/chat"
    unknown = await http_client.get(f"{url}/{chat_body()['id']}/stream", headers=owner.headers)
    assert unknown.status_code == 404
    foreign = await http_client.get(f"{url}/{private.id}/stream", headers=other.headers)
    assert foreign.status_code == 404  # as a missing chat: no existence oracle
    readable = await http_client.get(f"{url}/{public.id}/stream", headers=other.headers)
    assert readable.status_code == 204
    anonymous = await http_client.get(f"{url}/{private.id}/stream")
    assert anonymous.status_code == 401


async def _stop(http: httpx.AsyncClient, server: str, user: TestUser, chat_id: str) -> Any:
    response = await http.post(f"{server}/api/chat/{chat_id}/stop", headers=user.headers)
    return response.status_code, response.json()


async def test_stop_ends_the_turn_and_saves_the_partial_reply(
    db: Any, app: FastAPI, server: str, http_client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    async with http_client.stream(
        "POST", f"{server}/api/chat", json=body, headers=user.headers
    ) as response:
        events = _events(response)
        seen = await _read_until(events, "text-delta", 3)
        began = time.monotonic()
        assert await _stop(http_client, server, user, body["id"]) == (200, {"stopped": True})
        seen += [chunk async for chunk in events]
        assert time.monotonic() - began < 1.0
    assert seen[-1] == {"type": "finish", "finishReason": "stop"}
    streamed = "".join(c["delta"] for c in seen if c["type"] == "text-delta")
    assert not streamed.endswith("thinking.")
    saved = await wait_for(lambda: _assistant_text(app, body["id"]), 5)
    assert saved == streamed
    assert await _stop(http_client, server, user, body["id"]) == (200, {"stopped": False})


async def test_stop_of_someone_elses_chat_is_403(
    db: Any, app: FastAPI, server: str, http_client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    other = await make_user(app)
    chat = await make_chat(app, owner, visibility="public")
    status, payload = await _stop(http_client, server, other, str(chat.id))
    assert status == 403
    assert payload["code"] == "forbidden:chat"


class SlowTitle:
    """A title model that answers after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def aclose(self) -> None:
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        await asyncio.sleep(self.delay)
        yield TextDelta("Slow Title")
        yield StepFinish("stop", Usage())


async def test_first_token_is_not_held_back_by_a_slow_title(
    db: Any, app: FastAPI, settings: Settings, http_client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    application = create_app(settings)
    with serve_in_thread(application) as server:
        registry = application.state.models
        resolved = registry.title_model()
        slow = dataclasses.replace(resolved.targets[0], provider=SlowTitle(1.0))
        title = dataclasses.replace(resolved, targets=(slow,))
        registry.title_model = lambda: title
        began = time.monotonic()
        async with http_client.stream(
            "POST", f"{server}/api/chat", json=body, headers=user.headers
        ) as response:
            events = _events(response)
            await _read_until(events, "text-delta")
            first_token = time.monotonic() - began
            rest = [chunk async for chunk in events]
    assert first_token < 0.5
    types = [c["type"] for c in rest]
    assert types.index("data-chat-title") < types.index("finish")
    assert types.index("data-chat-title") > types.index("text-delta")
