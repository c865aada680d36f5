"""Turns on configured models, through the app and a fake OpenAI upstream: with only an OpenAI
key every offered id is answered by OpenAI; a 503 is retried; a failing model's fallback
answers; a model's user types, tools and output cap from the models file hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from chatbot_api.ai import prompts
from chatbot_api.ai.demo import DEMO_NOTICE
from tests.ai.test_registry import NO_PROVIDERS
from tests.chats.conftest import chat_body, send, stored_chat, stored_messages, text_of
from tests.factories import make_user
from tests.fakes.http import RecordedRequest, Reply
from tests.fakes.openai_server import FakeOpenAIServer, error_reply, stream_reply, text_stream

MODELS_FILE = """
models:
  - id: house/flaky
    name: Flaky
    provider: openai
    model: broken-model
    fallbacks: [openai/gpt-5.2]
  - id: house/members
    provider: openai
    model: members-model
    user_types: [regular]
    tools: false
    max_output_tokens: 123
"""


class Upstream:
    """Answers each model by name; `broken-model` always fails; `fail_next` fails once."""

    def __init__(self) -> None:
        self.server = FakeOpenAIServer(self.reply)
        self.fail_next = 0

    def reply(self, request: RecordedRequest) -> Reply:
        body = request.json()
        if body["messages"][0]["content"] == prompts.TITLE_PROMPT:
            return stream_reply(text_stream(["A ", "Title"]))
        if body["model"] == "broken-model":
            return error_reply(500, {"error": {"message": "boom", "type": "server_error"}})
        if self.fail_next:
            self.fail_next -= 1
            return error_reply(503, {"error": {"message": "busy", "type": "server_error"}})
        return stream_reply(text_stream([f"Answer from {body['model']}."]))

    def chat_models(self) -> list[str]:
        return [
            r.json()["model"]
            for r in self.server.requests
            if r.json()["messages"][0]["content"] != prompts.TITLE_PROMPT
        ]


def saved_text(messages: list[Any]) -> str:
    reply = messages[-1]
    assert reply.role == "assistant"
    return "".join(part.get("text", "") for part in reply.parts if part["type"] == "text")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    fake = Upstream()
    with fake.server:
        yield fake


@pytest.fixture
def settings_overrides(upstream: Upstream, tmp_path: Path) -> dict[str, Any]:
    models = tmp_path / "models.yaml"
    models.write_text(MODELS_FILE)
    return {
        **NO_PROVIDERS,
        "openai_api_key": "sk-test",
        "openai_base_url": upstream.server.base_url,
        "chat_models_file": models,
    }


async def test_only_an_openai_key_answers_every_offered_id_by_openai(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    user = await make_user(app)
    listed = (await client.get("/api/models")).json()
    assert listed["demo"] is False
    offered = [m for m in listed["models"] if not m["id"].startswith("house/")]
    assert {m["answeredBy"] for m in offered} == {"openai"}
    for model in offered:
        response, chunks = await send(client, user, chat_body("Hi", model=model["id"]))
        assert response.status_code == 200, response.text
        text = text_of(chunks)
        assert text == f"Answer from {model['upstreamModel']}.", model["id"]
        assert DEMO_NOTICE not in text
    assert set(upstream.chat_models()) == {"gpt-4.1-mini", "gpt-5.2"}
    assert upstream.chat_models().count("gpt-5.2") == 1


async def test_a_provider_failing_once_with_503_gives_a_normal_reply(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    user = await make_user(app)
    upstream.fail_next = 1
    body = chat_body("Hi", model="openai/gpt-5.2")
    _response, chunks = await send(client, user, body)
    assert text_of(chunks) == "Answer from gpt-5.2."
    assert not [c for c in chunks if c["type"] == "error"]
    assert upstream.chat_models() == ["gpt-5.2", "gpt-5.2"]
    assert saved_text(await stored_messages(app, body["id"])) == "Answer from gpt-5.2."


async def test_a_failing_model_with_a_fallback_gives_the_fallbacks_reply(
    db: Any,
    app: FastAPI,
    client: httpx.AsyncClient,
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged = structlog.testing.CapturingLogger()
    monkeypatch.setattr("chatbot_api.ai.resilience.log", logged)
    user = await make_user(app)
    body = chat_body("Hi", model="house/flaky")
    _response, chunks = await send(client, user, body)
    assert text_of(chunks) == "Answer from gpt-5.2."
    assert upstream.chat_models() == ["broken-model"] * 3 + ["gpt-5.2"]
    events = [(call.args[0], call.kwargs.get("fallback")) for call in logged.calls]
    assert events == [
        ("model call retried", None),
        ("model call retried", None),
        ("model call failed; falling back", "openai/gpt-5.2"),
    ]
    assert saved_text(await stored_messages(app, body["id"])) == "Answer from gpt-5.2."


async def test_a_model_for_regular_users_is_403_for_a_guest_and_writes_nothing(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    guest = await make_user(app, user_type="guest")
    body = chat_body("Hi", model="house/members")
    response, _ = await send(client, guest, body)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:model"
    assert "house/members" in response.json()["cause"]
    assert await stored_chat(app, body["id"]) is None
    assert upstream.chat_models() == []


async def test_the_files_tools_switch_and_output_cap_reach_the_request(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    user = await make_user(app)
    _response, chunks = await send(client, user, chat_body("Hi", model="house/members"))
    assert text_of(chunks) == "Answer from members-model."
    sent = next(r.json() for r in upstream.server.requests if r.json()["model"] == "members-model")
    assert "tools" not in sent
    assert sent["max_completion_tokens"] == 123


async def test_an_unknown_model_is_a_400_naming_it(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    user = await make_user(app)
    body = chat_body("Hi", model="nope/" + uuid.uuid4().hex)
    response, _ = await send(client, user, body)
    assert response.status_code == 400
    assert body["selectedChatModel"] in response.json()["cause"]
