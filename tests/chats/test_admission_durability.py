"""PostgreSQL: the admission commits without waiting for the WAL flush and the turn's stream
row follows with a flushing commit, while the model request goes out. Nothing of the reply
shows before the message is durable; a message that cannot be made durable gets no reply."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from chatbot_api.chats.models import Stream
from chatbot_api.chats.turn.admission_pg import PgAdmission
from chatbot_api.chats.turn.steps import FAILED
from chatbot_api.core.config import Settings
from tests.chats.conftest import (
    balanced_ending,
    chat_body,
    live_server,
    parse_sse,
    send,
    stored_messages,
    text_of,
    turn_overrides,
)
from tests.chats.helpers import admission_ask, count
from tests.factories import make_user
from tests.fakes.openai_server import FakeOpenAIServer, stream_reply, text_stream

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
MODEL = "openai/gpt-4.1-mini"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default=stream_reply(text_stream(["Durable ", "reply."]))) as server:
        yield server


@pytest.fixture
def settings_overrides(upstream: FakeOpenAIServer) -> dict[str, Any]:
    return turn_overrides(ai_gateway_api_key="key", ai_gateway_url=upstream.base_url)


async def _scalar(app: FastAPI, sql: str, *args: Any) -> Any:
    async with app.state.engine.connect() as conn:
        return await conn.scalar(text(sql), *args)


async def test_the_message_is_durable_once_its_stream_row_is_committed(
    db: Any, app: FastAPI
) -> None:
    """When `durable` resolves the WAL is flushed past everything the admission wrote, and
    the admission's `synchronous_commit` did not outlive its own transaction."""
    user = await make_user(app)
    admission = PgAdmission(app.state.engine, app.state.turn_deps.admission)
    request = admission_ask(user, uuid.uuid4())
    admitted = await admission.admit(request)
    written = await _scalar(app, "SELECT pg_current_wal_insert_lsn()::text")
    assert admitted.durable is not None
    await admitted.durable
    flushed = await _scalar(
        app,
        "SELECT pg_current_wal_flush_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn)",
        {"lsn": written},
    )
    assert flushed is True
    assert await count(app, Stream, Stream.id == request.stream_id) == 1
    assert app.state.engine.pool.checkedout() == 0
    async with app.state.engine.connect() as conn:  # the pooled connection the turn used
        assert await conn.scalar(text("SHOW synchronous_commit")) == "on"


async def test_the_reply_waits_until_the_message_is_durable(
    db: Any,
    app: FastAPI,
    settings: Settings,
    upstream: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held at the durability statement: the model already has the whole request, and the
    client has nothing of the reply; then the reply flows whole."""
    gate, reached = asyncio.Event(), asyncio.Event()
    real = PgAdmission._make_durable
    loop = asyncio.get_running_loop()

    async def held(self: PgAdmission, conn: Any, ask: Any) -> None:
        loop.call_soon_threadsafe(reached.set)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(gate.wait(), loop))
        await real(self, conn, ask)

    monkeypatch.setattr(PgAdmission, "_make_durable", held)
    user = await make_user(app)
    body = chat_body("Hello there", model=MODEL)
    received: list[bytes] = []
    with live_server(settings) as base_url:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
            http.stream("POST", "/api/chat", json=body, headers=user.headers) as reply,
        ):

            async def read() -> None:
                async for data in reply.aiter_bytes():
                    received.append(data)

            reading = asyncio.create_task(read())
            await asyncio.wait_for(reached.wait(), 5)
            for _ in range(100):  # the model gets the whole request meanwhile
                if upstream.requests:
                    break
                await asyncio.sleep(0.02)
            assert upstream.requests[-1].json()["messages"][-1]["content"] == "Hello there"
            await asyncio.sleep(0.3)
            assert b"text-delta" not in b"".join(received)
            gate.set()
            await asyncio.wait_for(reading, 10)
    chunks = parse_sse(b"".join(received))
    assert text_of(chunks) == "Durable reply."


async def test_a_message_that_cannot_be_made_durable_gets_an_error_and_no_reply(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = PgAdmission._make_durable

    async def lost(self: PgAdmission, conn: Any, ask: Any) -> None:
        await conn.invalidate()
        await conn.close()
        raise ConnectionResetError("connection lost")

    monkeypatch.setattr(PgAdmission, "_make_durable", lost)
    user = await make_user(app)
    body = chat_body("Hello there", model=MODEL)
    response, chunks = await send(client, user, body)
    monkeypatch.setattr(PgAdmission, "_make_durable", real)
    assert response.status_code == 200
    assert balanced_ending(chunks) == ["error", "finish-step", "finish"]
    assert chunks[-3]["errorText"] == FAILED
    assert text_of(chunks) == ""
    await asyncio.sleep(0.1)
    assert [m.role for m in await stored_messages(app, body["id"])] == ["user"]
    assert app.state.engine.pool.checkedout() == 0
    response, chunks = await send(client, user, chat_body("Again", model=MODEL))
    assert text_of(chunks) == "Durable reply."
