"""The real `ai` 5/6/7 clients chat through the service with Gemini (a fake on Google's wire
protocol) as the only provider: texts, titles and a function call round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from chatbot_api.ai import prompts
from chatbot_api.core.config import Settings
from tests.ai.test_registry import NO_PROVIDERS
from tests.chats.conftest import live_server, stored_chat, stored_messages, turn_overrides
from tests.chats.test_turn_clients import assert_saved_as_assembled, drive
from tests.factories import make_user
from tests.fakes.gemini_server import (
    FakeGeminiServer,
    function_call,
    gemini_reply,
    model_of,
    text,
    usage,
)
from tests.fakes.http import RecordedRequest, Reply
from tests.fakes.open_meteo import OpenMeteoFake

pytestmark = pytest.mark.node

MODEL = "google/gemini-2.5-flash-lite"
UPSTREAM = "gemini-2.5-flash-lite"
REPLY = ["Hello ", "from ", "Gemini."]
WEATHER_REPLY = ["It is 17.2°C ", "in Paris."]


def _system(request: RecordedRequest) -> str:
    instruction = request.json().get("systemInstruction") or {}
    return "".join(part.get("text", "") for part in instruction.get("parts", []))


def _parts(request: RecordedRequest) -> list[dict[str, Any]]:
    return [part for turn in request.json()["contents"] for part in turn["parts"]]


def scripted(request: RecordedRequest) -> Reply:
    """Titles get a title; the chat model calls getWeather when asked about the weather and
    answers from its result once that comes back."""
    if _system(request) == prompts.TITLE_PROMPT:
        return gemini_reply([text("Gemini "), text("Title")])
    parts = _parts(request)
    if any("functionResponse" in part for part in parts):
        return gemini_reply([text(piece) for piece in WEATHER_REPLY])
    asks_weather = "weather" in str(parts[-1].get("text", "")).lower()
    if asks_weather and request.json().get("tools"):
        call = function_call("getWeather", {"city": "Paris"}, signature="c2lnLXBhcmlz")
        return gemini_reply([call], metadata=usage(30, 8))
    return gemini_reply([text(piece) for piece in REPLY], metadata=usage(21, 3))


@pytest.fixture
def upstream() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(default=scripted) as server:
        yield server


@pytest.fixture
def settings_overrides(weather_api: OpenMeteoFake, upstream: FakeGeminiServer) -> dict[str, Any]:
    return turn_overrides(
        weather_api,
        **{**NO_PROVIDERS, "google_api_key": "AIza-e2e-key"},
        google_base_url=upstream.base_url,
    )


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as base_url:
        yield base_url


def _chat_requests(upstream: FakeGeminiServer) -> list[RecordedRequest]:
    return [r for r in upstream.requests if _system(r).startswith(prompts.REGULAR_PROMPT)]


@pytest.mark.parametrize("version", ["ai5", "ai6", "ai7"])
async def test_client_chats_with_gemini_and_gets_a_gemini_title(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    upstream: FakeGeminiServer,
    version: str,
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, "text", version=version, model=MODEL)
    await assert_saved_as_assembled(app, chat_id, result)
    last = result["messages"][-1]
    assert "".join(p["text"] for p in last["parts"] if p["type"] == "text") == "".join(REPLY)
    chat = await stored_chat(app, chat_id)
    assert chat is not None
    assert chat.title == "Gemini Title"
    assert {model_of(r) for r in upstream.requests} == {UPSTREAM}
    assert all(r.headers["x-goog-api-key"] == "AIza-e2e-key" for r in upstream.requests)
    [sent] = _chat_requests(upstream)
    body = sent.json()
    assert body["contents"][-1] == {"role": "user", "parts": [{"text": "Hello there"}]}
    [declarations] = body["tools"]
    names = {d["name"] for d in declarations["functionDeclarations"]}
    assert {"getWeather", "createDocument", "updateDocument", "requestSuggestions"} <= names


@pytest.mark.parametrize("version", ["ai6", "ai7"])
async def test_client_approves_a_gemini_weather_call_and_its_result_goes_back(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    upstream: FakeGeminiServer,
    weather_api: OpenMeteoFake,
    version: str,
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, "weather", version=version, model=MODEL)
    await assert_saved_as_assembled(app, chat_id, result)
    last = result["messages"][-1]
    weather = next(p for p in last["parts"] if p["type"] == "tool-getWeather")
    assert weather["state"] == "output-available"
    assert weather["input"] == {"city": "Paris"}
    assert weather["output"]["cityName"] == "Paris"
    texts = "".join(p["text"] for p in last["parts"] if p["type"] == "text")
    assert texts == "".join(WEATHER_REPLY)
    first, second = _chat_requests(upstream)
    assert first.json()["contents"][-1]["parts"] == [{"text": "What's the weather in Paris?"}]
    model_turn, result_turn = second.json()["contents"][-2:]
    assert model_turn["role"] == "model"
    call = model_turn["parts"][-1]
    assert call["functionCall"] == {"name": "getWeather", "args": {"city": "Paris"}}
    assert call["thoughtSignature"] == "c2lnLXBhcmlz"  # the call's own, kept by this worker
    assert result_turn["role"] == "user"
    [response] = [p["functionResponse"] for p in result_turn["parts"] if "functionResponse" in p]
    assert response["name"] == "getWeather"
    assert response["response"]["cityName"] == "Paris"
    assert await stored_messages(app, chat_id)
