"""Turns on AWS Bedrock (a fake bedrock-runtime checking SigV4), driven by the real `ai` 5/6/7
chat clients: what they assemble is saved, and what reached Bedrock is the Converse shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from chatbot_api.ai import prompts
from chatbot_api.core.config import Settings
from tests.chats.conftest import live_server, stored_messages, turn_overrides
from tests.chats.test_turn_clients import assert_saved_as_assembled, drive
from tests.factories import make_user
from tests.fakes.bedrock_server import (
    CREDENTIALS_ENV,
    REGION,
    FakeBedrockServer,
    converse_reply,
    model_of,
    text_block,
    tool_use_block,
)
from tests.fakes.http import RecordedRequest, Reply
from tests.fakes.open_meteo import OpenMeteoFake

pytestmark = pytest.mark.node

MODEL_ID = "bedrock/claude"
UPSTREAM = "anthropic.claude-3-5-haiku-20241022-v1:0"


def _system(request: RecordedRequest) -> str:
    return "".join(block.get("text", "") for block in request.json().get("system") or [])


def _blocks(request: RecordedRequest) -> list[dict[str, Any]]:
    return [block for m in request.json()["messages"] for block in m["content"]]


def scripted(request: RecordedRequest) -> Reply:
    """Titles get a title; the chat model calls getWeather for weather, then answers from
    its result; anything else gets a greeting."""
    if _system(request) == prompts.TITLE_PROMPT:
        return converse_reply([text_block(["Bedrock ", "Title"])], input_tokens=20, output_tokens=2)
    blocks = _blocks(request)
    if any("toolResult" in block for block in blocks):
        return converse_reply([text_block(["It is ", "mild ", "in Paris."])])
    asked = " ".join(block.get("text", "") for block in blocks)
    if "weather" in asked.lower() and request.json().get("toolConfig"):
        call = tool_use_block("tooluse_paris", "getWeather", ['{"city": ', '"Paris"}'])
        return converse_reply([text_block(["Checking."]), call], stop_reason="tool_use")
    return converse_reply([text_block(["Hello ", "from ", "Bedrock."])], input_tokens=30)


@pytest.fixture
def upstream() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer(default=scripted) as server:
        yield server


@pytest.fixture
def settings_overrides(
    weather_api: OpenMeteoFake,
    upstream: FakeBedrockServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    for name, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    models = tmp_path / "models.json"
    entry = {"id": MODEL_ID, "backend": "bedrock", "upstream_model": UPSTREAM}
    models.write_bytes(orjson.dumps({"models": [entry]}))
    return turn_overrides(
        weather_api,
        bedrock_region=REGION,
        bedrock_endpoint_url=upstream.origin,
        chat_models_file=models,
        default_chat_model=MODEL_ID,
        title_model=MODEL_ID,
        artifact_model=MODEL_ID,
        llm_idle_timeout_seconds=5.0,
    )


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as base_url:
        yield base_url


def _chat_requests(upstream: FakeBedrockServer) -> list[RecordedRequest]:
    return [r for r in upstream.requests if _system(r).startswith(prompts.REGULAR_PROMPT)]


@pytest.mark.parametrize("version", ["ai5", "ai6", "ai7"])
async def test_bedrock_text_turn_is_saved_as_the_client_assembled(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    upstream: FakeBedrockServer,
    version: str,
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, "text", version=version, model=MODEL_ID)
    await assert_saved_as_assembled(app, chat_id, result)
    last = result["messages"][-1]
    assert [p["text"] for p in last["parts"] if p["type"] == "text"] == ["Hello from Bedrock."]
    assert "data-chat-title" in result["data"]
    assert upstream.bad_signatures == []
    [sent] = _chat_requests(upstream)
    assert model_of(sent) == UPSTREAM
    body = sent.json()
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hello there"}]}]
    assert {t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]} >= {"getWeather"}
    assert body["inferenceConfig"]["maxTokens"] > 0


@pytest.mark.parametrize("version", ["ai6", "ai7"])
async def test_bedrock_weather_tool_result_goes_back_as_tool_result(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    upstream: FakeBedrockServer,
    version: str,
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, "weather", version=version, model=MODEL_ID)
    await assert_saved_as_assembled(app, chat_id, result)
    last = result["messages"][-1]
    weather = next(p for p in last["parts"] if p["type"] == "tool-getWeather")
    assert weather["state"] == "output-available"
    assert weather["input"] == {"city": "Paris"}
    assert weather["output"]["cityName"] == "Paris"
    assert last["parts"][-1]["text"] == "It is mild in Paris."
    assert upstream.bad_signatures == []
    first, answer = _chat_requests(upstream)
    assert not any("toolResult" in block for block in _blocks(first))
    messages = answer.json()["messages"]
    assert messages[-2]["role"] == "assistant"
    tool_use = next(b["toolUse"] for b in messages[-2]["content"] if "toolUse" in b)
    assert tool_use == {"toolUseId": "tooluse_paris", "name": "getWeather",
                        "input": {"city": "Paris"}}  # fmt: skip
    assert messages[-1]["role"] == "user"
    [tool_result] = [b["toolResult"] for b in messages[-1]["content"] if "toolResult" in b]
    assert tool_result["toolUseId"] == "tooluse_paris"
    assert tool_result["status"] == "success"
    assert tool_result["content"][0]["json"]["cityName"] == "Paris"
    stored = await stored_messages(app, chat_id)
    assert [m.role for m in stored] == ["user", "assistant"]
