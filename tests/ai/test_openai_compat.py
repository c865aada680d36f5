"""The OpenAI-compatible provider against a local streaming Chat Completions server."""

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
    StepFinish,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from chatbot_api.ai.providers import errors
from chatbot_api.ai.providers.http import create_llm_session
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
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
from tests.fakes.http import Reply
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    chunk,
    encode,
    error_reply,
    stream_reply,
    text_stream,
    tool_call_chunks,
    usage_chunk,
)

SECRET_BODY = "upstream-internal-detail-7f3a"
DEFAULT_TEXT = "Hello from the fake server."  # the fake's reply when none is queued
WEATHER = ToolSpec(
    "getWeather", "Get the weather", {"type": "object", "properties": {"city": {"type": "string"}}}
)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with create_llm_session() as client:  # the app's own client settings
        yield client


def provider(
    http: aiohttp.ClientSession, server: FakeOpenAIServer, **options: Any
) -> OpenAICompatProvider:
    options.setdefault("idle_timeout", 5.0)
    return OpenAICompatProvider(http, server.base_url, "sk-test", **options)


def request(text: str = "Hi", **fields: Any) -> ModelRequest:
    return ModelRequest(model="fake-model", messages=[user(text)], **fields)


async def test_stream_yields_text_deltas_then_finish_with_usage(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply(text_stream(["Hel", "lo", " world"], usage=(11, 3))))
    events = await collect(provider(http, server), request())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", " world"]
    finish = finish_of(events)
    assert finish.reason == "stop"
    assert (finish.usage.input_tokens, finish.usage.output_tokens) == (11, 3)


async def test_usage_reports_cached_input_and_reasoning_tokens(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    events = [chunk({"content": "ok"}), chunk(finish_reason="stop")]
    server.queue(stream_reply([*events, usage_chunk(120, 40, reasoning=32, cached=96)]))
    usage = finish_of(await collect(provider(http, server), request())).usage
    assert (usage.input_tokens, usage.output_tokens) == (120, 40)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (96, 32)


async def test_request_carries_model_messages_tools_and_limits(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    messages = [
        ModelMessage("user", [TextPart("Look"), ImagePart("https://img/x.png", "image/png")]),
        ModelMessage(
            "assistant",
            [TextPart("Checking."), ToolCallPart("call_9", "getWeather", {"city": "Oslo"})],
        ),
        ModelMessage("tool", [ToolResultPart("call_9", "getWeather", {"temp": 3})]),
    ]
    outgoing = ModelRequest(
        model="vendor/model-x", messages=messages, system="Be brief.", tools=[WEATHER],
        max_output_tokens=256, temperature=0.2,
    )  # fmt: skip
    await collect(provider(http, server), outgoing)
    [recorded] = server.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == "Bearer sk-test"
    body = recorded.json()
    assert body["model"] == "vendor/model-x"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"]) == (256, 0.2)
    assert body["tools"] == [
        {"type": "function", "function": {"name": "getWeather", "description": "Get the weather",
                                          "parameters": WEATHER.parameters}}
    ]  # fmt: skip
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "https://img/x.png"}},
        ]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_9", "type": "function",
             "function": {"name": "getWeather", "arguments": '{"city":"Oslo"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_9", "content": '{"temp":3}'},
    ]  # fmt: skip


async def test_gateway_reasoning_request_asks_for_reasoning(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    gateway = provider(http, server, reasoning_style="gateway")
    await collect(gateway, request(reasoning=True, reasoning_budget_tokens=2000))
    assert server.requests[0].json()["reasoning"] == {"enabled": True, "max_tokens": 2000}


async def test_tool_call_deltas_across_chunks_become_one_parsed_call(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    events_in = [
        chunk({"role": "assistant"}),
        *tool_call_chunks(0, "call_a", "getWeather", ['{"ci', 'ty": "Pa', 'ris"}']),
        chunk(finish_reason="tool_calls"),
        usage_chunk(5, 7),
    ]
    server.queue(stream_reply(events_in))
    events = await collect(provider(http, server), request(tools=[WEATHER]))
    assert summary(events) == [
        ("tool-start", ("call_a", "getWeather")),
        ("tool-delta", ("call_a", '{"ci')),
        ("tool-delta", ("call_a", 'ty": "Pa')),
        ("tool-delta", ("call_a", 'ris"}')),
        ("tool-end", ("call_a", "getWeather", {"city": "Paris"}, None)),
        ("finish", "tool-calls"),
    ]


async def test_parallel_tool_calls_are_kept_apart(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    first = tool_call_chunks(0, "call_a", "getWeather", ['{"city":', '"Oslo"}'])
    second = tool_call_chunks(1, "call_b", "getWeather", ['{"city":', '"Rome"}'])
    interleaved = [first[0], second[0], first[1], second[1], first[2], second[2]]
    server.queue(stream_reply([*interleaved, chunk(finish_reason="tool_calls")]))
    events = await collect(provider(http, server), request(tools=[WEATHER]))
    calls = [(c.tool_call_id, c.input) for c in tool_calls(events)]
    assert calls == [("call_a", {"city": "Oslo"}), ("call_b", {"city": "Rome"})]
    assert finish_of(events).reason == "tool-calls"


async def test_invalid_tool_arguments_are_reported_not_raised(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    broken = tool_call_chunks(0, "call_x", "getWeather", ['{"city": "Par'])
    server.queue(stream_reply([*broken, chunk(finish_reason="tool_calls")]))
    [call] = tool_calls(await collect(provider(http, server), request(tools=[WEATHER])))
    assert call.input == '{"city": "Par'
    assert call.input_error is not None


async def test_tool_calls_with_stop_finish_still_finish_as_tool_calls(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    whole = tool_call_chunks(0, "call_o", "getWeather", ['{"city":"Lima"}'])
    server.queue(stream_reply([*whole, chunk(finish_reason="stop")]))  # e.g. Ollama
    events = await collect(provider(http, server), request(tools=[WEATHER]))
    assert finish_of(events).reason == "tool-calls"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_fields_stream_as_reasoning(
    http: aiohttp.ClientSession, server: FakeOpenAIServer, field: str
) -> None:
    server.queue(
        stream_reply(text_stream(["42"], reasoning=["Let me ", "think."], reasoning_field=field))
    )
    events = await collect(provider(http, server), request())
    assert summary(events) == [("reasoning", "Let me think."), ("text", "42"), ("finish", "stop")]


async def test_think_tags_split_across_chunks_become_reasoning(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    pieces = ["<th", "ink>Plan", " it.</thi", "nk>\n\nThe ", "answer <b>is</b> 4."]
    server.queue(stream_reply(text_stream(pieces)))
    events = await collect(provider(http, server), request())
    assert reasoning_of(events) == "Plan it."
    assert text_of(events) == "The answer <b>is</b> 4."


async def test_think_tags_are_plain_text_when_disabled(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply(text_stream(["<think>x</think>y"])))
    events = await collect(provider(http, server, think_tags=False), request())
    assert text_of(events) == "<think>x</think>y"


async def test_sse_framing_variants_are_parsed(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    body = b"".join(encode(text_stream(["a", "b", "c"])))
    body = b": keep-alive\n\n" + body.replace(b"\n", b"\r\n")
    tiny = [body[i : i + 7] for i in range(0, len(body), 7)]  # events split mid-line
    server.queue(Reply(chunks=tiny))
    events = await collect(provider(http, server), request())
    assert text_of(events) == "abc"
    assert finish_of(events).reason == "stop"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, errors.MSG_CREDENTIALS),
        (403, errors.MSG_CREDENTIALS),
        (404, errors.MSG_NOT_FOUND),
        (429, errors.MSG_RATE_LIMIT),
        (500, errors.MSG_UNAVAILABLE),
        (503, errors.MSG_UNAVAILABLE),
        (400, errors.MSG_BAD_REQUEST),
    ],
)
async def test_http_error_becomes_a_short_public_message(
    http: aiohttp.ClientSession, server: FakeOpenAIServer, status: int, message: str
) -> None:
    server.queue(error_reply(status, {"error": {"message": SECRET_BODY, "type": "x"}}))
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server), request())
    error = caught.value
    assert error.public_message == message
    assert error.status == status
    assert SECRET_BODY not in error.public_message
    assert SECRET_BODY in error.detail


async def test_gateway_credit_card_error_is_recognisable(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    text = "AI Gateway requires a valid credit card on file to service requests."
    server.queue(error_reply(403, {"error": {"message": text, "type": "x"}}))
    with pytest.raises(errors.GatewayCreditCardRequired) as caught:
        await collect(provider(http, server), request())
    assert caught.value.status == 402


async def test_error_inside_the_stream_becomes_a_short_message(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    bad = {"error": {"message": SECRET_BODY, "type": "server_error", "code": 502}}
    server.queue(stream_reply([chunk({"content": "par"}), bad], done=False))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "par"
    assert error.public_message == errors.MSG_UNAVAILABLE
    assert SECRET_BODY not in error.public_message


async def test_dropped_connection_mid_stream_is_reported_after_partial_text(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply(text_stream(["one ", "two ", "three"]), drop_after=3))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "one two "
    assert error.public_message == errors.MSG_CLOSED


async def test_a_malformed_event_ends_the_step_with_an_error(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    """An event that is not JSON ends the step with an error (not skipped in silence); an
    empty keep-alive event is fine."""
    server.queue(stream_reply(["", chunk({"content": "par"}), "{not json at all"]))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "par"
    assert error.public_message == errors.MSG_MALFORMED
    assert "not json at all" in error.detail
    assert "not json at all" not in error.public_message


async def test_stream_ending_without_finish_is_reported(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply([chunk({"content": "cut"})], done=False))
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server), request())
    assert caught.value.public_message == errors.MSG_CLOSED


async def test_stalled_upstream_is_cut_after_the_idle_timeout(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply(text_stream(["a", "b"]), stall_after=2, stall_seconds=30))
    started = time.perf_counter()
    with pytest.raises(ProviderError) as caught:
        await collect(provider(http, server, idle_timeout=0.3), request())
    assert caught.value.public_message == errors.MSG_IDLE
    assert time.perf_counter() - started < 3


async def test_pause_shorter_than_the_idle_timeout_is_fine(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply(text_stream(["a", "b"]), stall_after=2, stall_seconds=0.2))
    events = await collect(provider(http, server, idle_timeout=2), request())
    assert text_of(events) == "ab"


async def test_unreachable_upstream_is_reported(http: aiohttp.ClientSession) -> None:
    dead = OpenAICompatProvider(http, "http://127.0.0.1:9/v1", "k", connect_timeout=2)
    with pytest.raises(ProviderError) as caught:
        await collect(dead, request())
    assert caught.value.public_message == errors.MSG_UNREACHABLE


async def test_cancellation_closes_the_upstream_connection(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(stream_reply(text_stream(["first ", "second"]), stall_after=2))
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


async def test_registry_routes_frontend_ids_to_the_gateway(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    settings = Settings(
        _env_file=None, **{**NO_PROVIDERS, "ai_gateway_api_key": "gw-key",
                           "ai_gateway_url": server.base_url},
    )  # fmt: skip
    resolved = build_registry(settings, http).resolve("anthropic/claude-3.7-sonnet-thinking")
    outgoing = ModelRequest(
        model=resolved.upstream_model, messages=[user("Hi")], reasoning=resolved.reasoning
    )
    assert text_of(await collect(resolved.provider, outgoing)) == "Hello from the fake server."
    body = server.requests[0].json()
    assert body["model"] == "anthropic/claude-3.7-sonnet"
    assert body["reasoning"]["enabled"] is True
    assert server.requests[0].headers["authorization"] == "Bearer gw-key"


async def test_gateway_credit_card_error_inside_the_stream_is_recognisable(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    text = "AI Gateway requires a valid credit card on file to service requests."
    server.queue(stream_reply([{"error": {"message": text, "type": "x"}}], done=False))
    _, error = await collect_until_error(provider(http, server), request())
    assert isinstance(error, errors.GatewayCreditCardRequired)
    assert error.status == 402


async def test_consecutive_streams_reuse_one_connection(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    server.queue(
        stream_reply(text_stream(["one"])),
        error_reply(429, {"error": {"message": "slow down", "type": "x"}}),
        stream_reply(text_stream(["two"]), delay=0.05),  # the body's end after [DONE], late
    )
    assert text_of(await collect(provider(http, server), request())) == "one"
    with pytest.raises(ProviderError):
        await collect(provider(http, server), request())
    assert text_of(await collect(provider(http, server), request())) == "two"
    assert text_of(await collect(provider(http, server), request())) == DEFAULT_TEXT
    assert len(server.requests) == 4
    assert server.connections == 1
    assert server.disconnects == 0


async def test_a_tail_after_done_that_never_ends_is_cut_after_the_step_is_out(
    http: aiohttp.ClientSession, server: FakeOpenAIServer
) -> None:
    chunks = encode(text_stream(["a", "b"]))
    server.queue(Reply(chunks=[*chunks, b": more\n\n"], stall_after=len(chunks), stall_seconds=30))
    started = time.perf_counter()
    finished_at = None
    async for event in provider(http, server).stream(request()):
        if isinstance(event, StepFinish):
            finished_at = time.perf_counter() - started
    assert finished_at is not None
    assert finished_at < 0.9  # the step's end is not held behind the drain (1 s)
    assert time.perf_counter() - started < 3  # the drain gave up (1 s cap) and closed
    assert await asyncio.to_thread(server.wait_for_disconnect, 5)
    assert text_of(await collect(provider(http, server), request())) == DEFAULT_TEXT
    assert server.connections == 2


async def test_requests_go_through_the_proxy_named_in_the_environment(
    http: aiohttp.ClientSession, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY and NO_PROXY apply as for any HTTP client (read once per provider)."""
    upstream = "http://models.example.invalid/v1"
    monkeypatch.setenv("HTTP_PROXY", server.origin)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.queue(stream_reply(text_stream(["via proxy"])))
    events = await collect(OpenAICompatProvider(http, upstream, "sk-test"), request())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["via proxy"]
    assert server.requests[-1].path == f"{upstream}/chat/completions"  # absolute form

    monkeypatch.setenv("NO_PROXY", "models.example.invalid")
    with pytest.raises(ProviderError) as failed:
        await collect(OpenAICompatProvider(http, upstream, "sk-test", connect_timeout=2), request())
    assert failed.value.public_message == errors.MSG_UNREACHABLE
    assert len(server.requests) == 1
