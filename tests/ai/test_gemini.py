"""The Gemini provider against a local streamGenerateContent server speaking Google's SSE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from chatbot_api.ai.base import (
    ImagePart,
    ModelMessage,
    ModelRequest,
    ProviderError,
    ReasoningPart,
    TextPart,
    ToolCallEnd,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from chatbot_api.ai.providers import errors
from chatbot_api.ai.providers.gemini import GeminiProvider
from chatbot_api.ai.providers.gemini_request import SKIP_SIGNATURE
from chatbot_api.ai.registry import build_registry
from chatbot_api.core.config import Settings
from tests.ai.events import (
    collect,
    collect_until_error,
    finish_of,
    reasoning_of,
    summary,
    text_of,
    tool_calls,
    user,
)
from tests.ai.test_registry import NO_PROVIDERS
from tests.fakes.gemini_server import (
    FakeGeminiServer,
    blocked_prompt,
    chunk,
    encode,
    error_body,
    error_reply,
    events_reply,
    function_call,
    gemini_reply,
    model_of,
    response_chunks,
    text,
    thought,
    usage,
)
from tests.fakes.http import Reply

MODEL = "gemini-2.5-flash-lite"
DEFAULT_TEXT = "Hello from Gemini."  # the fake's reply when none is queued
WEATHER_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "latitude": {
            "anyOf": [{"type": "number", "minimum": -90, "maximum": 90}, {"type": "null"}],
            "default": None,
        },
        "city": {"type": ["string", "null"], "format": "uri", "description": "City name"},
        "unit": {"enum": ["c", "f"], "default": "c"},
        "days": {"enum": [1, 3, 7]},
        "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
    },
    "required": ["city", "not-a-property"],
    "$defs": {
        "Stop": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"kind": {"const": "stop"}, "at": {"type": "string"}},
            "required": ["at"],
        }
    },
}


@pytest.fixture
def server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def provider(
    http: aiohttp.ClientSession, server: FakeGeminiServer, **options: Any
) -> GeminiProvider:
    options.setdefault("idle_timeout", 5.0)
    return GeminiProvider(http, server.base_url, "AIza-test-key", **options)


def request(**fields: Any) -> ModelRequest:
    fields.setdefault("messages", [user("Hi")])
    fields.setdefault("model", MODEL)
    return ModelRequest(**fields)


# --- the request ----------------------------------------------------------------------
async def test_text_stream_posts_to_stream_generate_content_with_the_key(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(gemini_reply([text("Hello"), text(" there")], metadata=usage(9, 4)))
    events = await collect(provider(http, server), request())
    assert summary(events) == [("text", "Hello there"), ("finish", "stop")]
    usage_seen = finish_of(events).usage
    assert (usage_seen.input_tokens, usage_seen.output_tokens) == (9, 4)
    assert (usage_seen.reasoning_tokens, usage_seen.cached_input_tokens) == (None, None)
    [recorded] = server.requests
    assert recorded.method == "POST"
    assert recorded.path == f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    assert recorded.headers["x-goog-api-key"] == "AIza-test-key"
    assert "authorization" not in recorded.headers
    assert recorded.json() == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


async def test_request_carries_system_history_tool_results_and_images(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    messages = [
        ModelMessage("user", [
            TextPart("What is this, and the weather?"),
            ImagePart("data:image/png;base64,iVBORw0KGgo=", "image/png"),
            ImagePart("https://example.com/cat.jpg", "image/jpeg"),
        ]),
        ModelMessage("assistant", [
            ReasoningPart("hmm"), TextPart("A cat. Checking."),
            ToolCallPart("call_a", "getWeather", {"city": "Oslo"}),
            ToolCallPart("call_b", "getWeather", {"city": "Rome"}),
        ]),
        ModelMessage("tool", [
            ToolResultPart("call_a", "getWeather", {"temp": 3}),
            ToolResultPart("call_b", "getWeather", "timeout", is_error=True),
        ]),
        ModelMessage("assistant", [ToolCallPart("call_c", "count", 7)]),
        ModelMessage("tool", [ToolResultPart("call_c", "count", 8)]),
        user("Thanks"),
    ]  # fmt: skip
    outgoing = request(
        messages=messages, system="Be brief.", max_output_tokens=300, temperature=0.2
    )
    await collect(provider(http, server), outgoing)
    body = server.requests[0].json()
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["generationConfig"] == {"maxOutputTokens": 300, "temperature": 0.2}
    assert body["contents"] == [
        {"role": "user", "parts": [
            {"text": "What is this, and the weather?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        ]},
        {"role": "model", "parts": [
            {"text": "A cat. Checking."},
            {"functionCall": {"name": "getWeather", "args": {"city": "Oslo"}}},
            {"functionCall": {"name": "getWeather", "args": {"city": "Rome"}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "getWeather", "response": {"temp": 3}}},
            {"functionResponse": {"name": "getWeather", "response": {"error": "timeout"}}},
        ]},
        {"role": "model", "parts": [{"functionCall": {"name": "count", "args": {"value": 7}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "count", "response": {"output": 8}}},
            {"text": "Thanks"},
        ]},
    ]  # fmt: skip
    assert "tools" not in body


async def test_tools_are_declared_with_a_schema_gemini_accepts(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    tools = [
        ToolSpec("getWeather", "Get the weather", WEATHER_SCHEMA),
        ToolSpec("ping", "No arguments", {"type": "object", "properties": {}}),
    ]
    await collect(provider(http, server), request(tools=tools))
    [declarations] = server.requests[0].json()["tools"]
    weather, ping = declarations["functionDeclarations"]
    assert ping == {"name": "ping", "description": "No arguments"}
    assert weather["name"] == "getWeather"
    assert weather["parameters"] == {
        "type": "object",
        "properties": {
            "latitude": {"type": "number", "minimum": -90, "maximum": 90, "nullable": True},
            "city": {"type": "string", "description": "City name", "nullable": True},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "days": {"type": "integer", "description": "One of: 1, 3, 7"},
            "stops": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": ["stop"]},
                        "at": {"type": "string"},
                    },
                    "required": ["at"],
                },
            },
        },
        "required": ["city"],
    }


async def test_reasoning_request_asks_for_thoughts_and_streams_them(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    parts = [thought("Let me "), thought("see."), text("Done.")]
    server.queue(gemini_reply(parts, metadata=usage(20, 5, thoughts=40, cached=8)))
    events = await collect(
        provider(http, server),
        request(reasoning=True, reasoning_budget_tokens=2000, max_output_tokens=500),
    )
    assert summary(events) == [("reasoning", "Let me see."), ("text", "Done."), ("finish", "stop")]
    assert reasoning_of(events) == "Let me see."
    seen = finish_of(events).usage
    assert (seen.input_tokens, seen.output_tokens) == (20, 45)
    assert (seen.reasoning_tokens, seen.cached_input_tokens) == (40, 8)
    config = server.requests[0].json()["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 2000}
    assert config["maxOutputTokens"] > 2000


# --- the stream -----------------------------------------------------------------------
async def test_function_calls_stream_whole_with_fresh_ids_and_finish_with_tool_calls(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    parts = [
        text("Let me check."),
        function_call("getWeather", {"city": "Oslo"}),
        function_call("getWeather", {"city": "Rome"}),
        function_call("ping", {}),
    ]
    server.queue(gemini_reply(parts))
    events = await collect(provider(http, server), request())
    calls = tool_calls(events)
    ids = [call.tool_call_id for call in calls]
    assert len(set(ids)) == 3
    assert all(ids)
    assert summary(events) == [
        ("text", "Let me check."),
        ("tool-start", (ids[0], "getWeather")),
        ("tool-delta", (ids[0], '{"city":"Oslo"}')),
        ("tool-end", (ids[0], "getWeather", {"city": "Oslo"}, None)),
        ("tool-start", (ids[1], "getWeather")),
        ("tool-delta", (ids[1], '{"city":"Rome"}')),
        ("tool-end", (ids[1], "getWeather", {"city": "Rome"}, None)),
        ("tool-start", (ids[2], "ping")),
        ("tool-delta", (ids[2], "{}")),
        ("tool-end", (ids[2], "ping", {}, None)),
        ("finish", "tool-calls"),
    ]
    server.queue(gemini_reply([function_call("getWeather", {"city": "Oslo"})]))
    again = tool_calls(await collect(provider(http, server), request()))
    assert again[0].tool_call_id not in ids


async def test_thought_signature_of_a_call_goes_back_with_it(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    gemini = provider(http, server)
    model = "gemini-3-pro-preview"
    server.queue(gemini_reply([function_call("getWeather", {"city": "Oslo"}, signature="c2ln")]))
    [call] = tool_calls(await collect(gemini, request(model=model)))
    history = [
        user("Weather?"),
        ModelMessage("assistant", [_replayed(call), ToolCallPart("old", "ping", {})]),
        ModelMessage("tool", [ToolResultPart(call.tool_call_id, "getWeather", {"temp": 3})]),
    ]
    await collect(gemini, request(model=model, messages=history))
    replayed = server.requests[1].json()["contents"][1]["parts"]
    assert model_of(server.requests[1]) == model
    assert replayed[0]["thoughtSignature"] == "c2ln"
    assert replayed[1]["thoughtSignature"] == SKIP_SIGNATURE  # a call this process never saw


async def test_gemini_2_calls_are_replayed_without_a_signature(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    history = [
        user("Weather?"),
        ModelMessage("assistant", [ToolCallPart("old", "ping", {})]),
        ModelMessage("tool", [ToolResultPart("old", "ping", {"ok": True})]),
    ]
    await collect(provider(http, server), request(messages=history))
    part = server.requests[0].json()["contents"][1]["parts"][0]
    assert part == {"functionCall": {"name": "ping", "args": {}}}


def _replayed(call: ToolCallEnd) -> ToolCallPart:
    return ToolCallPart(call.tool_call_id, call.tool_name, call.input)


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content-filter"),
        ("RECITATION", "content-filter"),
        ("BLOCKLIST", "content-filter"),
        ("PROHIBITED_CONTENT", "content-filter"),
        ("SPII", "content-filter"),
        ("OTHER", "other"),
    ],
)
async def test_finish_reasons_map_to_ours(
    http: aiohttp.ClientSession, server: FakeGeminiServer, finish: str, expected: str
) -> None:
    server.queue(gemini_reply([text("x")], finish=finish))
    assert finish_of(await collect(provider(http, server), request())).reason == expected


async def test_blocked_prompt_ends_the_step_as_content_filter(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(events_reply([blocked_prompt("PROHIBITED_CONTENT")]))
    events = await collect(provider(http, server), request())
    assert summary(events) == [("finish", "content-filter")]
    assert finish_of(events).usage.input_tokens == 9


async def test_finish_chunk_without_usage_still_ends_the_step_at_the_body_end(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    events = [chunk([text("a")]), chunk([text("b")], finish="STOP")]
    server.queue(events_reply(events))
    received = await collect(provider(http, server), request())
    assert summary(received) == [("text", "ab"), ("finish", "stop")]


# --- failures ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "status_name", "reason", "message"),
    [
        (400, "INVALID_ARGUMENT", None, errors.MSG_BAD_REQUEST),
        (400, "INVALID_ARGUMENT", "API_KEY_INVALID", errors.MSG_CREDENTIALS),
        (401, "UNAUTHENTICATED", None, errors.MSG_CREDENTIALS),
        (403, "PERMISSION_DENIED", None, errors.MSG_CREDENTIALS),
        (404, "NOT_FOUND", None, errors.MSG_NOT_FOUND),
        (429, "RESOURCE_EXHAUSTED", None, errors.MSG_RATE_LIMIT),
        (500, "INTERNAL", None, errors.MSG_UNAVAILABLE),
        (503, "UNAVAILABLE", None, errors.MSG_UNAVAILABLE),
    ],
)
async def test_http_error_becomes_a_short_public_message(
    http: aiohttp.ClientSession,
    server: FakeGeminiServer,
    status: int,
    status_name: str,
    reason: str | None,
    message: str,
) -> None:
    server.queue(error_reply(status, "internal-detail-91", status_name, reason))
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server), request())
    assert caught.value.public_message == message
    assert "internal-detail-91" in caught.value.detail
    assert "internal-detail-91" not in caught.value.public_message


@pytest.mark.parametrize(
    ("code", "status_name", "message"),
    [(503, "UNAVAILABLE", errors.MSG_UNAVAILABLE), (429, "RESOURCE_EXHAUSTED",
                                                     errors.MSG_RATE_LIMIT)],
)  # fmt: skip
async def test_error_object_mid_stream_becomes_a_short_message(
    http: aiohttp.ClientSession,
    server: FakeGeminiServer,
    code: int,
    status_name: str,
    message: str,
) -> None:
    events = [chunk([text("partial")]), error_body(code, "internal-detail-92", status_name)]
    server.queue(events_reply(events))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "partial"
    assert error.public_message == message
    assert "internal-detail-92" in error.detail


@pytest.mark.parametrize(
    "raw",
    [b"data: {not json\r\n\r\n", b"data: [1, 2]\r\n\r\n", b'data: {"candidates": 5}\r\n\r\n'],
    ids=["not-json", "not-an-object", "bad-shape"],
)
async def test_malformed_chunk_ends_the_step_with_an_error(
    http: aiohttp.ClientSession, server: FakeGeminiServer, raw: bytes
) -> None:
    server.queue(Reply(chunks=[*encode([chunk([text("ok")])]), raw]))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "ok"
    assert error.public_message == errors.MSG_MALFORMED


async def test_dropped_connection_is_reported(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(gemini_reply([text("one "), text("two "), text("three")], drop_after=2))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "one two "
    assert error.public_message == errors.MSG_CLOSED


async def test_stream_ending_without_a_finish_reason_is_reported(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(events_reply(response_chunks([text("cut"), text("off")])[:-1]))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "cut"
    assert error.public_message == errors.MSG_CLOSED


async def test_stalled_stream_is_cut_after_the_idle_timeout(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(gemini_reply([text("a"), text("b")], stall_after=1, stall_seconds=30))
    started = time.perf_counter()
    received, error = await collect_until_error(provider(http, server, idle_timeout=0.3), request())
    assert text_of(received) == "a"
    assert error.public_message == errors.MSG_IDLE
    assert time.perf_counter() - started < 3


async def test_cancellation_closes_the_upstream_connection(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(gemini_reply([text("first "), text("second")], stall_after=1))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider(http, server).stream(request()):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.wait_for_disconnect, 5)


async def test_consecutive_streams_reuse_one_connection(
    http: aiohttp.ClientSession, server: FakeGeminiServer
) -> None:
    server.queue(
        gemini_reply([text("one")], delay=0.05),
        error_reply(429, "slow down", "RESOURCE_EXHAUSTED"),
    )
    assert text_of(await collect(provider(http, server), request())) == "one"
    with pytest.raises(ProviderError):
        await collect(provider(http, server), request())
    assert text_of(await collect(provider(http, server), request())) == DEFAULT_TEXT
    assert len(server.requests) == 3
    assert server.connections == 1
    assert server.disconnects == 0


# --- settings and routing -------------------------------------------------------------
@pytest.mark.parametrize("variable", ["GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY"])
def test_api_key_is_read_from_either_environment_name(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("GOOGLE_GENERATIVE_AI_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv(variable, "AIza-from-env")
    key = Settings(_env_file=None).google_api_key
    assert key is not None
    assert key.get_secret_value() == "AIza-from-env"


@pytest.mark.parametrize(
    ("model_id", "upstream"),
    [
        ("google/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("google/gemini-3-pro-preview", "gemini-3-pro-preview"),
    ],
)
async def test_registry_routes_google_ids_to_gemini(
    http: aiohttp.ClientSession, server: FakeGeminiServer, model_id: str, upstream: str
) -> None:
    settings = Settings(
        _env_file=None,
        **{**NO_PROVIDERS, "google_api_key": "AIza-reg", "google_base_url": server.base_url},
    )
    resolved = build_registry(settings, http).resolve(model_id)
    assert (resolved.backend, resolved.upstream_model) == ("google", upstream)
    outgoing = ModelRequest(model=resolved.upstream_model, messages=[user("Hi")])
    assert text_of(await collect(resolved.provider, outgoing)) == DEFAULT_TEXT
    assert model_of(server.requests[0]) == upstream
    assert server.requests[0].headers["x-goog-api-key"] == "AIza-reg"
