"""Every way a turn ends, on the provider path (a fake OpenAI-compatible upstream speaking the
real SSE): the stream ends balanced, the real ai 5, 6 and 7 clients accept it, the user sees
a short error (never the provider's body) and the saved reply is what the client assembled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from chatbot_api.ai.providers import errors
from chatbot_api.chats.turn.steps import STOPPED_TOOL
from chatbot_api.core.config import Settings
from tests.chats.conftest import (
    assemble,
    balanced_ending,
    chat_body,
    live_server,
    parse_sse,
    send,
    stored_messages,
    text_of,
    turn_overrides,
    ui_message,
    wait_for,
)
from tests.factories import make_user
from tests.fakes.http import Reply
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    chunk,
    error_reply,
    stream_reply,
    text_stream,
    tool_call_chunks,
)

MODEL = "openai/gpt-4.1-mini"
SECRET = "upstream-internal-detail-31c9"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default=stream_reply(text_stream(["Title"]))) as server:
        yield server


@pytest.fixture
def settings_overrides(upstream: FakeOpenAIServer) -> dict[str, Any]:
    return turn_overrides(
        ai_gateway_api_key="test-gateway-key",
        ai_gateway_url=upstream.base_url,
        llm_idle_timeout_seconds=0.5,
    )


ENDINGS: dict[str, tuple[Reply, str]] = {
    "malformed event": (
        stream_reply([chunk({"content": "Half "}), "{not json " + SECRET], done=False),
        errors.MSG_MALFORMED,
    ),
    "error inside the stream": (
        stream_reply(
            [chunk({"content": "Half "}), {"error": {"message": SECRET, "code": 502}}],
            done=False,
        ),
        errors.MSG_UNAVAILABLE,
    ),
    "connection dropped": (
        stream_reply(text_stream(["Half ", "an ", "answer"]), drop_after=2),
        errors.MSG_CLOSED,
    ),
    "idle upstream": (
        stream_reply(text_stream(["Half ", "an ", "answer"]), stall_after=2, stall_seconds=30),
        errors.MSG_IDLE,
    ),
    "HTTP error": (error_reply(503, {"error": {"message": SECRET}}), errors.MSG_UNAVAILABLE),
    "tool input cut": (
        stream_reply(
            tool_call_chunks(0, "call_1", "createDocument", ['{"title": "No']), drop_after=2
        ),
        errors.MSG_CLOSED,
    ),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_provider_failure_ends_the_stream_balanced_and_every_client_accepts_it(
    db: Any,
    app: FastAPI,
    client: httpx.AsyncClient,
    upstream: FakeOpenAIServer,
    clients_dir: Path,
    ending: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged = structlog.testing.CapturingLogger()
    monkeypatch.setattr("chatbot_api.chats.turn.steps.log", logged)
    reply, public = ENDINGS[ending]
    # A 503 before the first token is retried twice (LLM_MAX_RETRIES) before it ends the turn.
    upstream.queue(*[reply] * (3 if ending == "HTTP error" else 1))
    user = await make_user(app)
    body = chat_body("Hello there", model=MODEL)
    response, chunks = await send(client, user, body)
    assert response.status_code == 200
    assert balanced_ending(chunks) == ["error", "finish-step", "finish"]
    assert chunks[-3]["errorText"] == public
    assert chunks[-1]["finishReason"] == "error"
    assert SECRET not in response.text
    failures = [call for call in logged.calls if call.args == ("provider failed",)]
    assert [call.method_name for call in failures] == ["warning"]
    assert failures[0].kwargs["error"]  # the detail goes to the log, not to the user
    saved = await wait_for(lambda: stored_messages(app, body["id"]), 5)
    for version in ("ai5", "ai6", "ai7"):
        assembled = assemble(clients_dir, response.content, version, allow_errors=True)
        assert assembled["errors"] == [public]
        if saved[-1].role == "assistant":
            assert assembled["message"]["parts"] == ui_message(saved[-1])["parts"]
    assert (saved[-1].role == "assistant") == (ending != "HTTP error")  # nothing to save


async def test_a_stop_mid_tool_input_and_mid_text_ends_balanced(
    db: Any,
    app: FastAPI,
    settings: Settings,
    upstream: FakeOpenAIServer,
    clients_dir: Path,
) -> None:
    """Stopped while the model writes a tool call's input: the call fails as stopped, the
    step ends, `finish: stop`; the client and the saved reply agree."""
    args = ['{"title": "Notes', '", "kind": "text"}']
    upstream.queue(
        stream_reply(tool_call_chunks(0, "call_1", "createDocument", args), stall_after=2)
    )
    user = await make_user(app)
    body = chat_body("Write a document", model=MODEL)
    with live_server(settings) as base_url:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
            http.stream("POST", "/api/chat", json=body, headers=user.headers) as response,
        ):
            received = b""
            stops: list[Any] = []
            async for data in response.aiter_bytes():
                received += data
                if b'"tool-input-delta"' in received and not stops:
                    stop = await http.post(f"/api/chat/{body['id']}/stop", headers=user.headers)
                    stops.append(stop.json())
    assert stops == [{"stopped": True}]
    chunks = parse_sse(received)
    assert balanced_ending(chunks)[-2:] == ["finish-step", "finish"]
    [failed] = [c for c in chunks if c["type"] == "tool-output-error"]
    assert failed == {
        "type": "tool-output-error",
        "toolCallId": "call_1",
        "errorText": STOPPED_TOOL,
    }
    assert chunks[-1]["finishReason"] == "stop"
    saved = await wait_for(lambda: stored_messages(app, body["id"]), 5)
    await asyncio.sleep(0.1)
    for version in ("ai5", "ai6", "ai7"):
        assembled = assemble(clients_dir, received, version)
        assert assembled["message"]["parts"] == ui_message(saved[-1])["parts"]
    assert text_of(chunks) == ""
