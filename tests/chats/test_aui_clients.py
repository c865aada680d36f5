"""The real `ai` 5/6/7 clients send assistant-ui's body (system, a frontend tool, callSettings,
config, metadata): the reply ends with the frontend tool call, unexecuted; its result continues."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from tests.chats.aui_fakes import ANSWER, FRONTEND_TOOL, chat_requests, scripted
from tests.chats.conftest import live_server, stored_messages, turn_overrides, ui_message
from tests.conftest import run_node
from tests.factories import make_user
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.node
MODEL = "openai/gpt-4.1-mini"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default=scripted) as server:
        yield server


@pytest.fixture
def settings_overrides(upstream: FakeOpenAIServer) -> dict[str, Any]:
    return turn_overrides(
        ai_gateway_api_key="test-gateway-key",
        ai_gateway_url=upstream.base_url,
        default_chat_model=MODEL,
    )


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as base_url:
        yield base_url


@pytest.mark.parametrize("version", ["ai5", "ai6", "ai7"])
async def test_ai_client_with_assistant_ui_body_gets_the_frontend_tool_call_unexecuted(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    upstream: FakeOpenAIServer,
    version: str,
) -> None:
    user = await make_user(app)
    chat_id = str(uuid.uuid4())
    result = run_node(clients_dir, "aui_chat.mjs", version, server, user.token, chat_id)
    assert result["errors"] == []
    first = result["first"]
    assert first["finishReason"] == "tool-calls"
    tool_part = first["message"]["parts"][-1]
    assert tool_part["type"] == f"tool-{FRONTEND_TOOL}"
    assert tool_part["state"] == "input-available"
    assert tool_part["input"] == {"precision": "city"}
    assert "output" not in tool_part
    assert "tool-output-available" not in first["chunks"]
    assert first["metadata"]["modelId"] == "fake-model"  # the model that answered
    assert first["metadata"]["usage"]["outputTokens"] == 7
    sent = chat_requests(upstream.requests)
    assert sent[0]["messages"][0]["content"] == "You are a location helper."
    assert (sent[0]["temperature"], sent[0]["max_tokens"]) == (0.3, 512)
    # config.apiKey/baseUrl are ignored: the operator's provider answered.
    assert {r.headers["authorization"] for r in upstream.requests} == {"Bearer test-gateway-key"}
    second = result["second"]
    assert second["finishReason"] == "stop"
    assert second["message"]["id"] == first["message"]["id"]
    texts = [p["text"] for p in second["message"]["parts"] if p["type"] == "text"]
    assert texts[-1] == ANSWER
    assert sent[-1]["messages"][-1]["role"] == "tool"
    saved = {str(m.id): ui_message(m) for m in await stored_messages(app, chat_id)}
    assert saved[second["message"]["id"]]["parts"] == second["message"]["parts"]
