"""The real `ai` 5/6/7 chat clients drive the service; what they assemble equals what is saved."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from tests.chats.conftest import live_server, stored_messages, turn_overrides, ui_message
from tests.conftest import run_node
from tests.factories import TestUser, make_user
from tests.fakes.open_meteo import OpenMeteoFake

pytestmark = pytest.mark.node

SCENARIOS = [
    # (versions, scenario, model, body style)
    (("ai5", "ai6", "ai7"), "text", "chat-model", "chatbot"),
    (("ai5", "ai6", "ai7"), "text", "chat-model-reasoning", "chatbot"),
    (("ai5", "ai6", "ai7"), "text", "chat-model", "sdk"),
    (("ai5", "ai6", "ai7"), "document", "chat-model", "chatbot"),
    (("ai5", "ai6", "ai7"), "two-turns", "chat-model", "chatbot"),
    (("ai6", "ai7"), "weather", "chat-model", "chatbot"),
    (("ai6", "ai7"), "deny", "chat-model", "chatbot"),
]
CASES = [
    pytest.param(version, scenario, model, style, id=f"{version}-{scenario}-{model}-{style}")
    for versions, scenario, model, style in SCENARIOS
    for version in versions
]


@pytest.fixture
def settings_overrides(
    weather_api: OpenMeteoFake, request: pytest.FixtureRequest
) -> dict[str, Any]:
    return turn_overrides(weather_api, **getattr(request, "param", {}))


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(settings) as base_url:
        yield base_url


def drive(
    clients_dir: Path,
    base_url: str,
    user: TestUser,
    scenario: str,
    *,
    version: str,
    model: str = "chat-model",
    style: str = "chatbot",
) -> tuple[str, dict[str, Any]]:
    chat_id = str(uuid.uuid4())
    args = [version, base_url, user.token, scenario, chat_id, model, style]
    result: dict[str, Any] = run_node(clients_dir, "chat.mjs", *args)
    return chat_id, result


async def assert_saved_as_assembled(app: FastAPI, chat_id: str, result: dict[str, Any]) -> None:
    assert result["errors"] == []
    saved = {str(m.id): ui_message(m) for m in await stored_messages(app, chat_id)}
    assistants = [m for m in result["messages"] if m["role"] == "assistant"]
    assert assistants
    for message in assistants[-1:]:
        assert saved[message["id"]]["parts"] == message["parts"]
    users = [m for m in result["messages"] if m["role"] == "user"]
    assert len([m for m in saved.values() if m["role"] == "user"]) == len(users)


@pytest.mark.parametrize(("version", "scenario", "model", "style"), CASES)
async def test_client_assembles_what_is_saved(
    db: Any,
    app: FastAPI,
    server: str,
    clients_dir: Path,
    version: str,
    scenario: str,
    model: str,
    style: str,
) -> None:
    user = await make_user(app)
    chat_id, result = drive(
        clients_dir, server, user, scenario, version=version, model=model, style=style
    )
    await assert_saved_as_assembled(app, chat_id, result)
    last = result["messages"][-1]
    assert last["role"] == "assistant"
    assert any(part["type"] == "text" for part in last["parts"])
    if scenario == "document":
        artifact = [name for name in result["data"] if name != "data-chat-title"]
        assert artifact[:4] == ["data-kind", "data-id", "data-title", "data-clear"]
        assert artifact[-1] == "data-finish"
    if model.endswith("reasoning"):
        assert any(part["type"] == "reasoning" for part in last["parts"])
    if scenario == "weather":
        weather = next(p for p in last["parts"] if p["type"] == "tool-getWeather")
        assert weather["state"] == "output-available"
        assert weather["output"]["cityName"] == "Paris"
    if scenario == "deny":
        stored = await stored_messages(app, chat_id)
        assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
        assert stored[1].parts[-1]["state"] == "output-denied"


@pytest.mark.parametrize(
    "settings_overrides", [{"weather_approval_required": False}], indirect=True
)
async def test_v5_client_gets_weather_without_approval_when_configured_off(
    db: Any, app: FastAPI, server: str, clients_dir: Path
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, "weather", version="ai5")
    await assert_saved_as_assembled(app, chat_id, result)
    weather = next(p for p in result["messages"][-1]["parts"] if p["type"] == "tool-getWeather")
    assert weather["output"]["cityName"] == "Paris"


@pytest.mark.parametrize("settings_overrides", [{"demo_model_word_delay_ms": 40}], indirect=True)
@pytest.mark.parametrize("version", ["ai5", "ai6", "ai7"])
async def test_client_resumes_after_dropping_the_connection(
    db: Any, app: FastAPI, server: str, clients_dir: Path, version: str
) -> None:
    user = await make_user(app)
    chat_id, result = drive(clients_dir, server, user, "resume", version=version)
    # The replay from `start` carries the title (live, it may come before or after the drop).
    replayed = result["data"][result["data"].index("(resumed)") :]
    assert replayed.count("data-chat-title") == 1
    await assert_saved_as_assembled(app, chat_id, result)
    assert result["messages"][-1]["parts"][-1]["text"].endswith("thinking.")
