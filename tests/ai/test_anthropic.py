"""The Anthropic Messages provider against a local streaming Messages server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from chatbot_api.ai.base import (
    ModelMessage,
    ModelRequest,
    ProviderError,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from chatbot_api.ai.providers import errors
from chatbot_api.ai.providers.anthropic import AnthropicProvider
from tests.ai.events import collect, collect_until_error, finish_of, summary, text_of, user
from tests.fakes.anthropic_server import (
    FakeAnthropicServer,
    error_reply,
    events_reply,
    message_events,
    messages_reply,
    text_block,
    thinking_block,
    tool_use_block,
)

WEATHER = ToolSpec("getWeather", "Get the weather", {"type": "object"})
DEFAULT_TEXT = "Hello from the fake server."  # the fake's reply when none is queued


@pytest.fixture
def server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def provider(
    http: aiohttp.ClientSession, server: FakeAnthropicServer, **options: Any
) -> AnthropicProvider:
    options.setdefault("idle_timeout", 5.0)
    return AnthropicProvider(http, server.base_url, "sk-ant-test", **options)


def request(**fields: Any) -> ModelRequest:
    fields.setdefault("messages", [user("Hi")])
    return ModelRequest(model="claude-haiku-4-5", **fields)


async def test_text_stream_with_usage(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    server.queue(messages_reply([text_block(["Hello", " there"])], input_tokens=9, output_tokens=4))
    events = await collect(provider(http, server), request())
    assert summary(events) == [("text", "Hello there"), ("finish", "stop")]
    usage = finish_of(events).usage
    assert (usage.input_tokens, usage.output_tokens) == (9, 4)


async def test_request_uses_messages_api_shape(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    messages = [
        user("Weather?"),
        ModelMessage(
            "assistant",
            [ReasoningPart("hmm"), TextPart("Checking."),
             ToolCallPart("toolu_1", "getWeather", {"city": "Oslo"})],
        ),
        ModelMessage("tool", [ToolResultPart("toolu_1", "getWeather", {"temp": 3})]),
        user("Thanks"),
    ]  # fmt: skip
    outgoing = request(
        messages=messages, system="Be brief.", tools=[WEATHER], max_output_tokens=300
    )
    await collect(provider(http, server), outgoing)
    [recorded] = server.requests
    assert recorded.path == "/v1/messages"
    assert recorded.headers["x-api-key"] == "sk-ant-test"
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    body = recorded.json()
    assert (body["model"], body["max_tokens"], body["stream"]) == ("claude-haiku-4-5", 300, True)
    assert body["system"] == "Be brief."
    assert body["tools"] == [
        {"name": "getWeather", "description": "Get the weather", "input_schema": {"type": "object"}}
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "getWeather", "input": {"city": "Oslo"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp":3}'},
            {"type": "text", "text": "Thanks"},
        ]},
    ]  # fmt: skip
    assert "thinking" not in body


async def test_reasoning_request_enables_thinking_and_streams_it(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    blocks = [thinking_block(["Let me ", "see."]), text_block(["Done."])]
    server.queue(messages_reply(blocks))
    events = await collect(
        provider(http, server),
        request(reasoning=True, reasoning_budget_tokens=2000, max_output_tokens=500),
    )
    assert summary(events) == [("reasoning", "Let me see."), ("text", "Done."), ("finish", "stop")]
    body = server.requests[0].json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] > 2000


async def test_tool_use_streams_input_and_finishes_with_tool_calls(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    blocks = [
        text_block(["Let me check."]),
        tool_use_block("toolu_7", "getWeather", ['{"ci', 'ty": "Oslo"}']),
    ]
    server.queue(messages_reply(blocks, stop_reason="tool_use"))
    events = await collect(provider(http, server), request(tools=[WEATHER]))
    assert summary(events) == [
        ("text", "Let me check."),
        ("tool-start", ("toolu_7", "getWeather")),
        ("tool-delta", ("toolu_7", '{"ci')),
        ("tool-delta", ("toolu_7", 'ty": "Oslo"}')),
        ("tool-end", ("toolu_7", "getWeather", {"city": "Oslo"}, None)),
        ("finish", "tool-calls"),
    ]


async def test_tool_use_without_input_gets_an_empty_object(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    server.queue(messages_reply([tool_use_block("toolu_8", "ping", [])], stop_reason="tool_use"))
    events = await collect(provider(http, server), request())
    assert ("tool-end", ("toolu_8", "ping", {}, None)) in summary(events)


@pytest.mark.parametrize(
    ("stop_reason", "finish"), [("max_tokens", "length"), ("refusal", "content-filter")]
)
async def test_stop_reasons_map_to_finish_reasons(
    http: aiohttp.ClientSession, server: FakeAnthropicServer, stop_reason: str, finish: str
) -> None:
    server.queue(messages_reply([text_block(["x"])], stop_reason=stop_reason))
    assert finish_of(await collect(provider(http, server), request())).reason == finish


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (401, "authentication_error", errors.MSG_CREDENTIALS),
        (429, "rate_limit_error", errors.MSG_RATE_LIMIT),
        (529, "overloaded_error", errors.MSG_UNAVAILABLE),
    ],
)
async def test_http_error_becomes_a_short_public_message(
    http: aiohttp.ClientSession,
    server: FakeAnthropicServer,
    status: int,
    error_type: str,
    message: str,
) -> None:
    server.queue(error_reply(status, error_type, "internal-detail-91"))
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server), request())
    assert caught.value.public_message == message
    assert "internal-detail-91" in caught.value.detail


async def test_error_event_mid_stream_becomes_a_short_message(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    events = message_events([text_block(["partial"])])[:4]  # start, ping, block start, delta
    events.append(
        {"type": "error", "error": {"type": "overloaded_error", "message": "internal-detail-92"}}
    )
    server.queue(events_reply(events))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "partial"
    assert error.public_message == errors.MSG_UNAVAILABLE
    assert "internal-detail-92" not in error.public_message


async def test_stream_ending_before_message_stop_is_reported(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    server.queue(events_reply(message_events([text_block(["cut"])])[:-2]))
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server), request())
    assert caught.value.public_message == errors.MSG_CLOSED


async def test_stalled_stream_is_cut_after_the_idle_timeout(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    server.queue(messages_reply([text_block(["a"])], stall_after=3, stall_seconds=30))
    started = time.perf_counter()
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server, idle_timeout=0.3), request())
    assert caught.value.public_message == errors.MSG_IDLE
    assert time.perf_counter() - started < 3


async def test_consecutive_streams_reuse_one_connection(
    http: aiohttp.ClientSession, server: FakeAnthropicServer
) -> None:
    server.queue(messages_reply([text_block(["one"])], delay=0.05))  # the end comes late
    assert text_of(await collect(provider(http, server), request())) == "one"
    assert text_of(await collect(provider(http, server), request())) == DEFAULT_TEXT
    assert len(server.requests) == 2
    assert server.connections == 1
    assert server.disconnects == 0
