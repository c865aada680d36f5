"""Failures in a turn: provider errors, stalls and failed titles end cleanly and keep replies."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.ai.base import (
    ModelEvent,
    ModelRequest,
    ProviderError,
    StepFinish,
    TextDelta,
    Usage,
)
from chatbot_api.ai.resilience import NO_RETRIES
from chatbot_api.chats.turn.steps import STALLED
from chatbot_api.core.config import Settings
from chatbot_api.main import create_app
from tests.chats.conftest import (
    assemble,
    chat_body,
    parse_sse,
    send,
    stored_chat,
    stored_messages,
    text_of,
    turn_overrides,
    ui_message,
)
from tests.factories import make_chat, make_user


def with_provider(model: Any, provider: Any) -> Any:
    """`model` answered by `provider` alone (no retries: the fake fails as scripted)."""
    target = dataclasses.replace(model.targets[0], provider=provider)
    return dataclasses.replace(model, targets=(target,), retry=NO_RETRIES)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return turn_overrides(chat_step_idle_timeout_seconds=0.5)


class ScriptedProvider:
    """Streams `words`, then fails, stalls or finishes."""

    def __init__(self, words: list[str], *, then: str = "finish") -> None:
        self.words = words
        self.then = then
        self.calls = 0

    async def aclose(self) -> None:
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        self.calls += 1
        for word in self.words:
            yield TextDelta(word)
        if self.then == "fail":
            raise ProviderError("The model provider failed.", detail="upstream 500: secret body")
        if self.then == "stall":
            await asyncio.sleep(3600)
        yield StepFinish("stop", Usage(input_tokens=3, output_tokens=len(self.words)))


def use_chat_provider(app: FastAPI, provider: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = app.state.models
    original = registry.resolve

    def resolve(model_id: str) -> Any:
        return with_provider(original(model_id), provider)

    monkeypatch.setattr(registry, "resolve", resolve)


def use_title_provider(app: FastAPI, provider: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = app.state.models
    title = with_provider(registry.title_model(), provider)
    monkeypatch.setattr(registry, "title_model", lambda: title)


async def test_provider_failure_mid_stream_sends_a_short_error_and_keeps_the_partial(
    db: Any,
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    clients_dir: Path,
) -> None:
    use_chat_provider(app, ScriptedProvider(["Partial ", "answer"], then="fail"), monkeypatch)
    user = await make_user(app)
    body = chat_body("Hello there")
    response, chunks = await send(client, user, body)
    assert response.status_code == 200
    errors = [c for c in chunks if c["type"] == "error"]
    assert errors == [{"type": "error", "errorText": "The model provider failed."}]
    assert "secret" not in response.text
    assert chunks[-1] == {"type": "finish", "finishReason": "error"}
    result = assemble(clients_dir, response.content, allow_errors=True)
    assert result["errors"] == ["The model provider failed."]
    saved = (await stored_messages(app, body["id"]))[-1]
    assert saved.role == "assistant"
    assert ui_message(saved)["parts"] == result["message"]["parts"]
    assert saved.parts[-1] == {"type": "text", "text": "Partial answer", "state": "done"}


async def test_provider_failure_before_any_output_saves_no_empty_reply(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_chat_provider(app, ScriptedProvider([], then="fail"), monkeypatch)
    user = await make_user(app)
    body = chat_body("Hello there")
    _, chunks = await send(client, user, body)
    assert [c["type"] for c in chunks if c["type"] == "error"] == ["error"]
    assert [m.role for m in await stored_messages(app, body["id"])] == ["user"]


async def test_service_answers_the_next_turn_after_a_provider_failure(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ScriptedProvider(["Oops"], then="fail")
    use_chat_provider(app, provider, monkeypatch)
    user = await make_user(app)
    body = chat_body("Hello there")
    await send(client, user, body)
    provider.then = "finish"
    provider.words = ["Fine ", "now"]
    response, chunks = await send(client, user, chat_body("Again", chat_id=body["id"]))
    assert response.status_code == 200
    assert text_of(chunks) == "Fine now"
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}


async def test_stalled_upstream_is_cut_after_the_idle_timeout(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_chat_provider(app, ScriptedProvider(["Thinking "], then="stall"), monkeypatch)
    user = await make_user(app)
    body = chat_body("Hello there")
    _, chunks = await asyncio.wait_for(send(client, user, body), 10)
    assert [c for c in chunks if c["type"] == "error"] == [{"type": "error", "errorText": STALLED}]
    saved = (await stored_messages(app, body["id"]))[-1]
    assert saved.parts[-1]["text"] == "Thinking "


async def test_failed_title_keeps_new_chat_and_adds_no_error(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_title_provider(app, ScriptedProvider([], then="fail"), monkeypatch)
    user = await make_user(app)
    body = chat_body("Hello there")
    _, chunks = await send(client, user, body)
    assert not [c for c in chunks if c["type"] in ("error", "data-chat-title")]
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    chat = await stored_chat(app, body["id"])
    assert chat is not None
    assert chat.title == "New chat"


async def test_slow_title_never_delays_the_first_token(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_title_provider(app, ScriptedProvider(["Slow title"], then="stall"), monkeypatch)
    monkeypatch.setattr(app.state.settings, "chat_title_timeout_seconds", 0.5)
    user = await make_user(app)
    body = chat_body("Hello there")
    _, chunks = await send(client, user, body)
    types = [c["type"] for c in chunks]
    assert types.index("text-delta") < len(types)
    assert "data-chat-title" not in types  # it timed out: no title, no error
    assert "error" not in types


@pytest.mark.parametrize("settings_overrides", [{"demo_model_word_delay_ms": 50}])
async def test_shutdown_finishes_running_turns_and_saves_their_replies(
    db: Any, app: FastAPI, settings: Settings
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    application = create_app(settings.model_copy(update={"chat_shutdown_grace_seconds": 0.3}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            posting = asyncio.create_task(http.post("/api/chat", json=body, headers=user.headers))
            await asyncio.sleep(0.5)
            assert len(application.state.turn_deps.turns) >= 1
    # The lifespan gave the turn its grace period, then stopped it: the reply is saved.
    response = await asyncio.wait_for(posting, 5)
    chunks = parse_sse(response.content)
    assert chunks[-1]["type"] == "finish"
    saved = (await stored_messages(app, body["id"]))[-1]
    assert saved.role == "assistant"
    assert saved.parts[-1]["text"] == text_of(chunks)
    assert not saved.parts[-1]["text"].endswith("thinking.")


async def test_stream_log_down_is_503_keeps_the_message_and_recovers(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream log cannot be opened (as when Redis is unreachable for a log opened at
    once): 503 `offline:chat`, the user's message is kept, no reply is produced; the next
    turn works once the log is back."""
    stream_log = app.state.turn_deps.stream_log
    opened = stream_log.open

    async def unreachable(stream_id: str, chat_id: str) -> None:
        raise ConnectionError("stream log unreachable")

    monkeypatch.setattr(stream_log, "open", unreachable)
    user = await make_user(app)
    body = chat_body("Hello there")
    response, _ = await send(client, user, body)
    assert response.status_code == 503
    assert response.json()["code"] == "offline:chat"
    await asyncio.sleep(0.2)  # a reply, had one been started, would be saved by now
    assert [m.role for m in await stored_messages(app, body["id"])] == ["user"]

    monkeypatch.setattr(stream_log, "open", opened)
    response, chunks = await send(client, user, chat_body("Again", chat_id=body["id"]))
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"
    assert [m.role for m in await stored_messages(app, body["id"])] == [
        "user",
        "user",
        "assistant",
    ]


async def test_commit_lost_is_503_with_nothing_live_or_stored(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database connection is lost while the message is being committed (on PostgreSQL
    the admission is one statement): 503, no reply is live or stored."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    async def lost_statement(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("connection lost")

    async def lost_commit(self: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    user = await make_user(app)
    chat = await make_chat(app, user)
    if db.backend == "postgresql":
        monkeypatch.setattr(AsyncConnection, "get_raw_connection", lost_statement)
    else:
        monkeypatch.setattr(AsyncSession, "commit", lost_commit)
    response, _ = await send(client, user, chat_body(chat_id=chat.id))
    monkeypatch.undo()
    assert response.status_code == 503
    assert await app.state.turn_deps.stream_log.active_stream(str(chat.id)) is None
    resumed = await client.get(f"/api/chat/{chat.id}/stream", headers=user.headers)
    assert resumed.status_code == 204
    await asyncio.sleep(0.2)
    assert await stored_messages(app, chat.id) == []


async def test_turn_that_cannot_start_after_admission_leaves_nothing_live(
    db: Any, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn fails to be set up once its message is admitted (committed by then): a 500 in
    the envelope, no reply, no stream left live; the next turn works."""
    from chatbot_api.chats.turn import service

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("turn setup failed")

    user = await make_user(app)
    chat = await make_chat(app, user)
    monkeypatch.setattr(service, "plan", broken)
    response, _ = await send(client, user, chat_body(chat_id=chat.id))
    monkeypatch.undo()
    assert response.status_code == 500
    assert "code" in response.json()
    assert await app.state.turn_deps.stream_log.active_stream(str(chat.id)) is None
    resumed = await client.get(f"/api/chat/{chat.id}/stream", headers=user.headers)
    assert resumed.status_code == 204
    await asyncio.sleep(0.2)
    if db.backend == "postgresql":  # the admission's connection went back to the pool
        assert app.state.engine.sync_engine.pool.checkedout() == 0
    assert "assistant" not in [m.role for m in await stored_messages(app, chat.id)]
    response, chunks = await send(client, user, chat_body(chat_id=chat.id))
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"
