"""Chat turns through outages, over real HTTP: PostgreSQL's connections reset for 5 s while
replies stream (none is lost, only 503s), and Redis down for 10 s under two workers (no 500,
every reply saved, open resumes end cleanly, everything back by itself)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Message
from chatbot_api.core.config import Settings
from chatbot_api.streaming.redis_log import LOST
from tests.chats.conftest import (
    balanced_ending,
    chat_body,
    live_server,
    parse_sse,
    stored_messages,
    text_of,
    wait_for,
    worker_env,
    worker_processes,
)
from tests.chats.helpers import count_rows
from tests.factories import TestUser, make_user
from tests.outages.pg_proxy import PgProxy
from tests.outages.redis_server import RedisServer
from tests.outages.test_worker_death import read_until

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    """The outage timeouts, and a demo reply that takes about 3 s."""
    return {**settings_overrides, "demo_model_word_delay_ms": 40}


async def _turn(http: httpx.AsyncClient, user: TestUser, text: str) -> tuple[str, bytes]:
    body = chat_body(text)
    response = await http.post("/api/chat", json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    return body["id"], response.content


async def test_replies_streamed_while_postgresql_is_cut_are_all_saved(
    db: Any, app: FastAPI, settings: Settings, pg: PgProxy
) -> None:
    user = await make_user(app)
    statuses: list[int] = []
    with live_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            running = [asyncio.create_task(_turn(http, user, f"Reply {i}")) for i in range(5)]
            await asyncio.sleep(0.5)  # admitted, streaming
            await pg.cut("reset")
            cut_until = time.monotonic() + 5
            while time.monotonic() < cut_until:
                for request in (
                    http.post("/api/chat", json=chat_body("During"), headers=user.headers),
                    http.get("/api/history", headers=user.headers),
                    http.get(f"/api/chat/{chat_body()['id']}/stream", headers=user.headers),
                ):
                    statuses.append((await request).status_code)
                await asyncio.sleep(0.2)
            replies = await asyncio.gather(*running)
            await pg.restore()
            for chat_id, raw in replies:
                saved = await wait_for(lambda c=chat_id: _assistant(app, c), 15)
                assert saved, f"the reply to {chat_id} was lost"
                assert saved[-1].parts[-1]["text"] == text_of(parse_sse(raw))
            after = await http.get("/api/history", headers=user.headers)
    assert set(statuses) == {503}
    assert after.status_code == 200
    assert await count_rows(app, Message, role="assistant") == 5  # each saved once


async def _assistant(app: FastAPI, chat_id: str) -> list[Any]:
    return [m for m in await stored_messages(app, chat_id) if m.role == "assistant"]


async def test_redis_down_ten_seconds_under_two_workers_is_degraded_not_down(
    db: Any, app: FastAPI, settings: Settings, redis_server: RedisServer
) -> None:
    user = await make_user(app)
    env = worker_env(settings, REDIS_URL=redis_server.url, DEMO_MODEL_WORD_DELAY_MS="60")
    statuses: list[int] = []
    with worker_processes(2, env) as (a, b):
        async with httpx.AsyncClient(timeout=30) as http:
            first = chat_body("Tell me about the sea")
            async with http.stream(
                "POST", f"{a.base_url}/api/chat", json=first, headers=user.headers
            ) as post:
                own: list[bytes] = []
                own_body = post.aiter_bytes()
                await read_until(own_body, 3, own)
                resume = await _start_resume(http, b.base_url, user, first["id"])
                redis_server.stop()
                down_until = time.monotonic() + 10
                resumed = await resume  # ends: its copy in Redis is out of reach
                own += [data async for data in own_body]
            during = chat_body("Now, with Redis down")
            async with http.stream(
                "POST", f"{a.base_url}/api/chat", json=during, headers=user.headers
            ) as post:
                kept: list[bytes] = []
                kept_body = post.aiter_bytes()
                await read_until(kept_body, 2, kept)
                local = await http.get(
                    f"{a.base_url}/api/chat/{during['id']}/stream", headers=user.headers
                )  # kept on its worker: resumable there
                kept += [data async for data in kept_body]
            while time.monotonic() < down_until:
                for worker in (a, b):
                    for request in (
                        http.get(f"{worker.base_url}/api/history", headers=user.headers),
                        http.post(f"{worker.base_url}/api/auth/guest"),
                        http.get(f"{worker.base_url}/health/ready"),
                    ):
                        statuses.append((await request).status_code)
                await asyncio.sleep(0.3)
            ready = await http.get(f"{a.base_url}/health/ready")
            redis_server.start()
            await asyncio.sleep(3)  # the workers' next probes find it back
            after = chat_body("Redis is back")
            async with http.stream(
                "POST", f"{a.base_url}/api/chat", json=after, headers=user.headers
            ) as post:
                await read_until(post.aiter_bytes(), 2, [])
                shared = await http.get(
                    f"{b.base_url}/api/chat/{after['id']}/stream", headers=user.headers
                )
    assert 500 not in statuses
    assert set(statuses) <= {200, 201}
    assert ready.json()["checks"]["redis"] == "degraded"
    resumed_chunks = parse_sse(resumed)
    assert balanced_ending(resumed_chunks) == ["error", "finish-step", "finish"]
    assert resumed_chunks[-3]["errorText"] == LOST
    own_chunks = parse_sse(b"".join(own))
    assert own_chunks[-1] == {"type": "finish", "finishReason": "stop"}  # its client: all of it
    kept_chunks = parse_sse(b"".join(kept))
    assert local.status_code == 200
    assert parse_sse(local.content) == kept_chunks
    assert shared.status_code == 200  # across workers again
    for body, chunks in ((first, own_chunks), (during, kept_chunks)):
        saved = await wait_for(lambda i=body["id"]: _assistant(app, i), 10)
        assert saved[-1].parts[-1]["text"] == text_of(chunks)


async def _start_resume(
    http: httpx.AsyncClient, base_url: str, user: TestUser, chat_id: str
) -> asyncio.Task[bytes]:
    """A resume on another worker, read to its end in a task, once it has some text."""
    started = asyncio.Event()

    async def read() -> bytes:
        received: list[bytes] = []
        async with http.stream(
            "GET", f"{base_url}/api/chat/{chat_id}/stream", headers=user.headers
        ) as response:
            async for data in response.aiter_bytes():
                received.append(data)
                if b'"text-delta"' in data:
                    started.set()
        return b"".join(received)

    task = asyncio.create_task(read())
    await asyncio.wait_for(started.wait(), 10)
    return task
