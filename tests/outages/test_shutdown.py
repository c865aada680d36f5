"""SIGTERM while a reply streams, on a real server process: readiness and new turns answer 503
at once, the running reply gets its grace, then ends (error and a balanced end, the same for a
reader on another worker) and is saved with its title; a second signal cuts the wait short."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.turn.producer import SHUTDOWN_TEXT
from chatbot_api.core.config import Settings
from tests.chats.conftest import (
    balanced_ending,
    chat_body,
    parse_sse,
    stored_chat,
    stored_messages,
    text_of,
    wait_for,
    worker_env,
    worker_processes,
)
from tests.factories import make_user
from tests.outages.redis_server import RedisServer
from tests.outages.test_worker_death import read_until

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
SLOW = "150"  # ms per word: the demo reply takes ~10 s


async def test_sigterm_drains_within_the_grace_and_saves_the_partial_and_title(
    db: Any, app: FastAPI, settings: Settings, redis_server: RedisServer
) -> None:
    user = await make_user(app)
    env = worker_env(
        settings,
        REDIS_URL=redis_server.url,
        DEMO_MODEL_WORD_DELAY_MS=SLOW,
        CHAT_SHUTDOWN_GRACE_SECONDS="2",
    )
    body = chat_body("Tell me about the sea")
    chat_id = body["id"]
    with worker_processes(2, env) as (a, b):
        async with httpx.AsyncClient(timeout=30) as http:
            async with http.stream(
                "POST", f"{a.base_url}/api/chat", json=body, headers=user.headers
            ) as post:
                own: list[bytes] = []
                own_body = post.aiter_bytes()
                await read_until(own_body, 3, own)
                async with http.stream(
                    "GET", f"{b.base_url}/api/chat/{chat_id}/stream", headers=user.headers
                ) as resume:
                    resumed: list[bytes] = []
                    resume_body = resume.aiter_bytes()
                    await read_until(resume_body, 3, resumed)
                    os.kill(a.process.pid, signal.SIGTERM)
                    signalled = time.monotonic()
                    ready = await http.get(f"{a.base_url}/health/ready")
                    refused = await http.post(
                        f"{a.base_url}/api/chat", json=chat_body("Another"), headers=user.headers
                    )
                    own += [data async for data in own_body]
                    ended = time.monotonic() - signalled
                    resumed += [data async for data in resume_body]
            exited = await _wait_exit(a.process, 10)
    assert (ready.status_code, ready.json()["status"]) == (503, "draining")
    assert (refused.status_code, refused.json()["code"]) == (503, "offline:chat")
    assert refused.headers["Retry-After"] == "1"
    assert 1.5 < ended < 4.0  # the grace (2 s), not the whole reply (~10 s)
    assert exited is not None
    assert exited - signalled < 6.0
    chunks = parse_sse(b"".join(own))
    assert balanced_ending(chunks) == ["error", "finish-step", "finish"]
    assert chunks[-3]["errorText"] == SHUTDOWN_TEXT
    assert parse_sse(b"".join(resumed)) == chunks  # the same ending on the other worker
    saved = await wait_for(lambda: stored_messages(app, chat_id), 5)
    assert saved[-1].role == "assistant"
    assert saved[-1].parts[-1]["text"] == text_of(chunks)
    chat = await stored_chat(app, chat_id)
    assert chat is not None
    assert chat.title != "New chat"


async def test_a_second_sigterm_skips_the_wait_and_still_saves(
    db: Any, app: FastAPI, settings: Settings
) -> None:
    user = await make_user(app)
    env = worker_env(settings, DEMO_MODEL_WORD_DELAY_MS=SLOW, CHAT_SHUTDOWN_GRACE_SECONDS="20")
    body = chat_body("Tell me about the sea")
    with worker_processes(1, env) as (a,):
        async with (
            httpx.AsyncClient(timeout=30) as http,
            http.stream("POST", f"{a.base_url}/api/chat", json=body, headers=user.headers) as post,
        ):
            own: list[bytes] = []
            own_body = post.aiter_bytes()
            await read_until(own_body, 3, own)
            os.kill(a.process.pid, signal.SIGTERM)
            signalled = time.monotonic()
            await read_until(own_body, 4, own)  # still streaming: the grace runs
            os.kill(a.process.pid, signal.SIGTERM)
            own += [data async for data in own_body]
            ended = time.monotonic() - signalled
        exited = await _wait_exit(a.process, 10)
    assert ended < 3.0
    assert exited is not None
    assert exited - signalled < 6.0
    chunks = parse_sse(b"".join(own))
    assert chunks[-3]["errorText"] == SHUTDOWN_TEXT
    saved = await wait_for(lambda: stored_messages(app, body["id"]), 5)
    assert saved[-1].parts[-1]["text"] == text_of(chunks)


async def _wait_exit(process: Any, seconds: float) -> float | None:
    """When the process exited (monotonic), or None if it outlived `seconds` (polled without
    blocking the loop: the database proxy of these tests runs on it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return time.monotonic()
        await asyncio.sleep(0.05)
    return None
