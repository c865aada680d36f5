"""Separate worker processes on one database (and Redis): resume, stop and limits across them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from chatbot_api.chats.models import Message
from chatbot_api.core.config import Settings
from tests.chats.conftest import (
    chat_body,
    parse_sse,
    stored_messages,
    turn_overrides,
    wait_for,
    worker_env,
    worker_processes,
)
from tests.chats.helpers import count_rows
from tests.factories import make_user


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return turn_overrides(**getattr(request, "param", {}))


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    buffer = b""
    async for data in response.aiter_bytes():
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            payload = event.removeprefix(b"data: ")
            if payload != b"[DONE]":
                yield orjson.loads(payload)


async def _until_text(events: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async for chunk in events:
        seen.append(chunk)
        if sum(1 for c in seen if c["type"] == "text-delta") >= count:
            break
    return seen


async def test_stream_started_on_one_worker_resumes_and_stops_from_another(
    db: Any, app: FastAPI, settings: Settings, redis_url: str
) -> None:
    user = await make_user(app)
    env = worker_env(settings, REDIS_URL=redis_url, DEMO_MODEL_WORD_DELAY_MS="60")
    body = chat_body("Hello there")
    chat_id = body["id"]
    with worker_processes(2, env) as (a, b):
        async with (
            httpx.AsyncClient(timeout=30) as http,
            http.stream("POST", f"{a.base_url}/api/chat", json=body, headers=user.headers) as post,
        ):
            events = _events(post)
            first = await _until_text(events, 3)
            resumed = http.get(f"{b.base_url}/api/chat/{chat_id}/stream", headers=user.headers)
            resume_task = asyncio.create_task(resumed)
            first += await _until_text(events, 3)
            stop = await http.post(f"{b.base_url}/api/chat/{chat_id}/stop", headers=user.headers)
            assert stop.json() == {"stopped": True}
            rest = [chunk async for chunk in events]
            replay = await resume_task
    assert replay.status_code == 200
    original = first + rest
    assert parse_sse(replay.content) == original
    assert original[-1] == {"type": "finish", "finishReason": "stop"}
    streamed = "".join(c["delta"] for c in original if c["type"] == "text-delta")
    saved = await wait_for(lambda: stored_messages(app, chat_id), 5)
    assert saved[-1].role == "assistant"
    assert saved[-1].parts[-1]["text"] == streamed


async def test_a_refused_turn_leaves_no_log_and_the_chats_live_stream_alone(
    db: Any, app: FastAPI, settings: Settings, redis_url: str
) -> None:
    """The log of a turn opens while the database admits it, but only an admitted turn's
    log becomes the chat's: another user's message to a chat with a live reply is refused
    (403), leaves nothing in Redis, and the owner can still resume the reply."""
    owner = await make_user(app)
    intruder = await make_user(app)
    env = worker_env(settings, REDIS_URL=redis_url, DEMO_MODEL_WORD_DELAY_MS="60")
    body = chat_body("Hello there")
    chat_id = body["id"]
    redis = Redis.from_url(redis_url)
    stream_keys = f"{settings.redis_key_prefix}stream:*"
    try:
        with worker_processes(2, env) as (a, b):
            async with (
                httpx.AsyncClient(timeout=30) as http,
                http.stream(
                    "POST", f"{a.base_url}/api/chat", json=body, headers=owner.headers
                ) as post,
            ):
                original = await _until_text(_events(post), 2)
                before = set(await redis.keys(stream_keys))
                refused = await http.post(
                    f"{b.base_url}/api/chat",
                    json=chat_body("Mine now", chat_id=chat_id),
                    headers=intruder.headers,
                )
                after = set(await redis.keys(stream_keys))
                resumed = await http.get(
                    f"{b.base_url}/api/chat/{chat_id}/stream", headers=owner.headers
                )
    finally:
        await redis.aclose()
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden:chat"
    assert after == before
    assert resumed.status_code == 200
    assert parse_sse(resumed.content)[0] == original[0]  # the owner's reply, from its start
    assert original[0]["type"] == "start"
    assert await count_rows(app, Message, role="user") == 1


@pytest.mark.parametrize("settings_overrides", [{"regular_max_messages_per_day": 3}], indirect=True)
async def test_limit_holds_across_workers_for_simultaneous_requests(
    db: Any, app: FastAPI, settings: Settings
) -> None:
    user = await make_user(app)
    env = worker_env(settings, REGULAR_MAX_MESSAGES_PER_DAY="3")
    with worker_processes(2, env) as workers:
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(index: int) -> int:
                url = workers[index % 2].base_url + "/api/chat"
                response = await http.post(url, json=chat_body(), headers=user.headers)
                return response.status_code

            statuses = await asyncio.gather(*(one(i) for i in range(8)))
    assert sorted(statuses) == [200] * 3 + [429] * 5
    assert await count_rows(app, Message, role="user") == 3
