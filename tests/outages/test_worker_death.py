"""A worker killed (kill -9) in the middle of a reply, on PostgreSQL with a Redis of the test's
own: another worker ends the reply for every reader within 2 s and saves it as they saw it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from tests.chats.conftest import (
    assemble,
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

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
ENDING = ["error", "finish-step", "finish"]


async def read_until(body: AsyncIterator[bytes], deltas: int, into: list[bytes]) -> None:
    """Read the body into `into` until it holds `deltas` text deltas."""
    async for data in body:
        into.append(data)
        if b"".join(into).count(b'"text-delta"') >= deltas:
            return


def deltas_in(raw: bytes) -> str:
    """The text of the whole text-delta events in a stream read so far."""
    events = [event.removeprefix(b"data: ") for event in raw.split(b"\n\n")[:-1]]
    return "".join(
        chunk["delta"]
        for chunk in (orjson.loads(event) for event in events if event != b"[DONE]")
        if chunk["type"] == "text-delta"
    )


async def test_a_killed_workers_reply_ends_elsewhere_within_two_seconds_and_is_saved(
    db: Any, app: FastAPI, settings: Settings, redis_server: RedisServer, clients_dir: Path
) -> None:
    user = await make_user(app)
    env = worker_env(settings, REDIS_URL=redis_server.url, DEMO_MODEL_WORD_DELAY_MS="60")
    body = chat_body("Tell me about the sea")
    chat_id = body["id"]
    with worker_processes(2, env) as (a, b):
        async with httpx.AsyncClient(timeout=30) as http:
            own: list[bytes] = []
            async with http.stream(
                "POST", f"{a.base_url}/api/chat", json=body, headers=user.headers
            ) as post:
                await read_until(post.aiter_bytes(), 3, own)
                async with http.stream(
                    "GET", f"{b.base_url}/api/chat/{chat_id}/stream", headers=user.headers
                ) as resume:
                    resumed: list[bytes] = []
                    body_of_resume = resume.aiter_bytes()
                    await read_until(body_of_resume, 5, resumed)
                    os.kill(a.process.pid, signal.SIGKILL)
                    died = time.monotonic()
                    stop = await http.post(
                        f"{b.base_url}/api/chat/{chat_id}/stop", headers=user.headers
                    )
                    resumed += [data async for data in body_of_resume]
                    ended = time.monotonic() - died
            after = await http.get(f"{b.base_url}/api/chat/{chat_id}/stream", headers=user.headers)
    assert stop.json() == {"stopped": True}
    assert ended < 2.0
    raw = b"".join(resumed)
    chunks = parse_sse(raw)
    assert balanced_ending(chunks) == ENDING
    assert chunks[-3]["errorText"] == "The reply was interrupted. Please try again."
    for version in ("ai5", "ai6", "ai7"):
        client = assemble(clients_dir, raw, version, allow_errors=True)
        assert client["errors"] == [chunks[-3]["errorText"]]
    assert after.status_code == 204  # nothing is left live
    saved = await wait_for(lambda: stored_messages(app, chat_id), 5)
    assert [m.role for m in saved] == ["user", "assistant"]
    assert saved[-1].parts[-1]["text"] == text_of(chunks)
    assert str(saved[-1].id) == chunks[0]["messageId"]
    chat = await stored_chat(app, chat_id)
    assert chat is not None
    assert chat.title != "New chat"  # a title, from the message if not from the model


async def test_a_worker_killed_alone_leaves_nothing_stuck_when_one_starts_again(
    db: Any, app: FastAPI, settings: Settings, redis_server: RedisServer
) -> None:
    """The only worker dies mid-reply; the next one to start ends that reply and saves it."""
    user = await make_user(app)
    env = worker_env(settings, REDIS_URL=redis_server.url, DEMO_MODEL_WORD_DELAY_MS="60")
    body = chat_body("Tell me about the sea")
    chat_id = body["id"]
    with worker_processes(1, env) as (a,):
        async with (
            httpx.AsyncClient(timeout=30) as http,
            http.stream("POST", f"{a.base_url}/api/chat", json=body, headers=user.headers) as post,
        ):
            own: list[bytes] = []
            await read_until(post.aiter_bytes(), 5, own)
            await asyncio.sleep(0.1)  # its events reach Redis
            os.kill(a.process.pid, signal.SIGKILL)
    with worker_processes(1, env) as (b,):
        saved = await wait_for(lambda: _assistant(app, chat_id), 10)
        async with httpx.AsyncClient(timeout=30) as http:
            resumed = await http.get(
                f"{b.base_url}/api/chat/{chat_id}/stream", headers=user.headers
            )
            stopped = await http.post(f"{b.base_url}/api/chat/{chat_id}/stop", headers=user.headers)
    assert saved, "the dead worker's reply was never saved"
    assert saved[-1].parts[-1]["text"].startswith(deltas_in(b"".join(own)))
    assert resumed.status_code == 204
    assert stopped.json() == {"stopped": False}


async def _assistant(app: FastAPI, chat_id: str) -> list[Any]:
    return [m for m in await stored_messages(app, chat_id) if m.role == "assistant"]
