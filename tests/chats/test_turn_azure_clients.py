"""The real `ai` 5/6/7 clients chat with a model served by Azure OpenAI (a fake resource)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from chatbot_api.ai import prompts
from chatbot_api.core.config import Settings
from tests.ai.test_registry import NO_PROVIDERS
from tests.chats.conftest import live_server, turn_overrides
from tests.chats.test_turn_clients import assert_saved_as_assembled, drive
from tests.factories import make_user
from tests.fakes.azure_server import (
    API_VERSION,
    FakeAzureOpenAIServer,
    azure_text_stream,
    azure_tool_call,
)
from tests.fakes.http import RecordedRequest, Reply
from tests.fakes.open_meteo import OpenMeteoFake
from tests.fakes.openai_server import stream_reply

pytestmark = pytest.mark.node

MODEL_ID = "azure/gpt-4o"
DEPLOYMENT = "gpt4o-chat"
KEY = "azure-e2e-key"
PATH = f"/openai/deployments/{DEPLOYMENT}/chat/completions?api-version={API_VERSION}"
CASES = [
    pytest.param(version, scenario, id=f"{version}-{scenario}")
    for versions, scenario in ((("ai5", "ai6", "ai7"), "text"), (("ai6", "ai7"), "weather"))
    for version in versions
]


def _system(request: RecordedRequest) -> str:
    messages = request.json()["messages"]
    return str(messages[0]["content"]) if messages[0]["role"] == "system" else ""


def scripted(request: RecordedRequest) -> Reply:
    """A title for the title prompt; a weather call, then its answer; else a greeting."""
    body = request.json()
    if _system(request) == prompts.TITLE_PROMPT:
        return stream_reply(azure_text_stream(["Azure ", "Chat"]))
    last = body["messages"][-1]
    if last["role"] == "tool":
        return stream_reply(azure_text_stream(["It is ", "17.2°C in Paris."], usage=(80, 9)))
    if "weather" in str(last["content"]).lower() and body.get("tools"):
        return stream_reply(azure_tool_call("call_az_1", "getWeather", '{"city": "Paris"}'))
    return stream_reply(azure_text_stream(["Hello ", "from ", "Azure."], usage=(12, 3)))


@pytest.fixture
def upstream() -> Iterator[FakeAzureOpenAIServer]:
    with FakeAzureOpenAIServer(scripted, deployments={DEPLOYMENT}, api_key=KEY) as server:
        yield server


@pytest.fixture
def settings_overrides(
    weather_api: OpenMeteoFake, upstream: FakeAzureOpenAIServer, tmp_path: Path
) -> dict[str, Any]:
    models = tmp_path / "models.json"
    entry = {"id": MODEL_ID, "name": "GPT-4o (Azure)", "backend": "azure",
             "upstream_model": DEPLOYMENT}  # fmt: skip
    models.write_bytes(orjson.dumps({"models": [entry]}))
    azure = {"azure_openai_endpoint": upstream.endpoint, "azure_openai_api_key": KEY}
    return turn_overrides(
        weather_api, **{**NO_PROVIDERS, **azure}, chat_models_file=models,
        default_chat_model=MODEL_ID, title_model=MODEL_ID,
    )  # fmt: skip


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as base_url:
        yield base_url


@pytest.mark.parametrize(("version", "scenario"), CASES)
async def test_client_chats_with_an_azure_deployment(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    upstream: FakeAzureOpenAIServer,
    version: str,
    scenario: str,
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, scenario, version=version, model=MODEL_ID)
    await assert_saved_as_assembled(app, chat_id, result)
    assert upstream.rejected == []
    assert {(r.path, r.headers["api-key"]) for r in upstream.requests} == {(PATH, KEY)}
    bodies = [r.json() for r in upstream.requests]
    assert all(b["stream_options"] == {"include_usage": True} for b in bodies)
    assert any(_system(r) == prompts.TITLE_PROMPT for r in upstream.requests)
    chats = [r.json() for r in upstream.requests if _system(r) != prompts.TITLE_PROMPT]
    last = result["messages"][-1]
    texts = [part["text"] for part in last["parts"] if part["type"] == "text"]
    if scenario == "text":
        assert texts[-1] == "Hello from Azure."
        assert len(chats) == 1
    else:
        weather = next(p for p in last["parts"] if p["type"] == "tool-getWeather")
        assert weather["state"] == "output-available"
        assert weather["output"]["cityName"] == "Paris"
        assert texts[-1] == "It is 17.2°C in Paris."
        [answered] = [b for b in chats if b["messages"][-1]["role"] == "tool"]
        tool_message = answered["messages"][-1]
        assert tool_message["tool_call_id"] == "call_az_1"
        assert "Paris" in tool_message["content"]
        assert "getWeather" in {t["function"]["name"] for t in chats[0]["tools"]}
