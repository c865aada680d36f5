"""The AWS Bedrock Converse provider against a local SigV4-checking event-stream server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiohttp
import orjson
import pytest
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.eventstream import EventStreamBuffer

from chatbot_api.ai.base import (
    ImagePart,
    ModelMessage,
    ModelRequest,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from chatbot_api.ai.providers import errors
from chatbot_api.ai.providers.bedrock import AwsSigner, BedrockProvider, load_signer
from chatbot_api.ai.providers.bedrock_messages import MSG_IMAGE_FORMAT, MSG_IMAGE_URL
from chatbot_api.ai.providers.eventstream import EventStreamDecoder
from chatbot_api.ai.providers.messages import INVALID_ARGS
from chatbot_api.ai.registry import build_registry
from chatbot_api.core.config import ConfigError, Settings
from tests.ai.events import collect, collect_until_error, finish_of, summary, text_of, user
from tests.ai.test_registry import NO_PROVIDERS
from tests.fakes.bedrock_server import (
    ACCESS_KEY,
    CREDENTIALS_ENV,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    FakeBedrockServer,
    converse_events,
    converse_reply,
    corrupt_crc,
    encode_frame,
    error_reply,
    event_frame,
    events_reply,
    exception_frame,
    frames_reply,
    reasoning_block,
    signature_problem,
    text_block,
    tool_use_block,
)
from tests.fakes.http import Reply

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
WEATHER = ToolSpec("getWeather", "Get the weather", {"type": "object"})
DEFAULT_TEXT = "Hello from the fake server."  # the fake's reply when none is queued
PNG = "iVBORw0KGgo="


@pytest.fixture
def server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def signer(secret: str = SECRET_KEY) -> AwsSigner:
    return AwsSigner(Credentials(ACCESS_KEY, secret, SESSION_TOKEN), REGION)


def provider(
    http: aiohttp.ClientSession, server: FakeBedrockServer, **options: Any
) -> BedrockProvider:
    options.setdefault("idle_timeout", 5.0)
    sign = options.pop("signer", None) or signer()
    return BedrockProvider(http, sign, endpoint_url=server.origin, **options)


def request(**fields: Any) -> ModelRequest:
    fields.setdefault("messages", [user("Hi")])
    return ModelRequest(model=MODEL, **fields)


def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """botocore's chain with nothing to find: no variables, files or instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_ROLE_ARN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- streaming ----------------------------------------------------------------------------
async def test_text_stream_with_usage(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    blocks = [text_block(["Hello", " there"])]
    server.queue(converse_reply(blocks, input_tokens=9, output_tokens=4, cache_read=100))
    events = await collect(provider(http, server), request())
    assert summary(events) == [("text", "Hello there"), ("finish", "stop")]
    usage = finish_of(events).usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (109, 4, 100)
    assert server.bad_signatures == []


async def test_cache_writes_count_as_input(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(converse_reply([text_block(["x"])], input_tokens=5, cache_write=50))
    usage = finish_of(await collect(provider(http, server), request())).usage
    assert (usage.input_tokens, usage.cached_input_tokens) == (55, None)


async def test_request_is_signed_and_uses_the_converse_shape(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    messages = [
        ModelMessage("user", [TextPart("Weather?"), ImagePart(f"data:image/png;base64,{PNG}",
                                                              "image/png")]),
        ModelMessage("assistant", [ReasoningPart("hmm"), TextPart("Checking."), TextPart(""),
                                   ToolCallPart("tooluse_1", "getWeather", {"city": "Oslo"})]),
        ModelMessage("tool", [ToolResultPart("tooluse_1", "getWeather", {"temp": 3}),
                              ToolResultPart("tooluse_2", "other", "boom", is_error=True)]),
        user("Thanks"),
    ]  # fmt: skip
    outgoing = request(
        messages=messages, system="Be brief.", tools=[WEATHER], max_output_tokens=300,
        temperature=0.2,
    )  # fmt: skip
    await collect(provider(http, server), outgoing)
    [recorded] = server.requests
    assert recorded.path == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
    assert recorded.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"
    )
    assert recorded.headers["x-amz-security-token"] == SESSION_TOKEN
    assert recorded.headers["accept"] == "application/vnd.amazon.eventstream"
    assert signature_problem(recorded) is None
    body = recorded.json()
    assert "modelId" not in body
    assert "model" not in body
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.2}
    assert body["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "getWeather", "description": "Get the weather",
        "inputSchema": {"json": {"type": "object"}}}}]}  # fmt: skip
    assert body["messages"] == [
        {"role": "user", "content": [
            {"text": "Weather?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]},
        {"role": "assistant", "content": [
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "getWeather",
                         "input": {"city": "Oslo"}}},
        ]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 3}}],
                            "status": "success"}},
            {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "boom"}],
                            "status": "error"}},
            {"text": "Thanks"},
        ]},
    ]  # fmt: skip
    assert "additionalModelRequestFields" not in body


async def test_fake_refuses_a_request_changed_after_signing(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    await collect(provider(http, server), request())
    [recorded] = server.requests
    recorded.body = recorded.body.replace(b"Hi", b"Ho")
    assert signature_problem(recorded) is not None
    later = datetime.now(UTC) + timedelta(minutes=10)
    recorded.body = recorded.body.replace(b"Ho", b"Hi")
    assert signature_problem(recorded, now=later) == "request time too skewed"


async def test_wrong_secret_is_refused_as_bad_credentials(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    bad = provider(http, server, signer=signer("not-the-secret"))
    _, error = await collect_until_error(bad, request())
    assert error.public_message == errors.MSG_CREDENTIALS
    assert error.status == 403
    assert "signature" in error.detail
    assert len(server.bad_signatures) == 1


async def test_refreshable_credentials_are_refreshed_when_due(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    refreshed: list[int] = []

    def refresh() -> dict[str, str]:
        refreshed.append(1)
        expiry = datetime.now(UTC) + timedelta(hours=1)
        return {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "token": SESSION_TOKEN,
                "expiry_time": expiry.isoformat()}  # fmt: skip

    stale = RefreshableCredentials(
        ACCESS_KEY, "expired-secret", SESSION_TOKEN,
        datetime.now(UTC) - timedelta(minutes=1), refresh, "test",
    )  # fmt: skip
    sign = AwsSigner(stale, REGION)
    assert text_of(await collect(provider(http, server, signer=sign), request())) == DEFAULT_TEXT
    assert text_of(await collect(provider(http, server, signer=sign), request())) == DEFAULT_TEXT
    assert len(refreshed) == 1
    assert server.bad_signatures == []


async def test_reasoning_request_enables_thinking_and_streams_it(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(converse_reply([reasoning_block(["Let me ", "see."]), text_block(["Done."])]))
    events = await collect(
        provider(http, server),
        request(reasoning=True, reasoning_budget_tokens=2000, max_output_tokens=500,
                temperature=0.5),
    )  # fmt: skip
    assert summary(events) == [("reasoning", "Let me see."), ("text", "Done."), ("finish", "stop")]
    body = server.requests[0].json()
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 2000}
    }
    assert body["inferenceConfig"]["maxTokens"] > 2000
    assert "temperature" not in body["inferenceConfig"]  # thinking refuses it


async def test_tool_use_streams_input_and_finishes_with_tool_calls(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    blocks = [
        text_block(["Let me check."]),
        tool_use_block("tooluse_7", "getWeather", ['{"ci', 'ty": "Oslo"}']),
        tool_use_block("tooluse_8", "ping", []),
    ]
    server.queue(converse_reply(blocks, stop_reason="tool_use"))
    events = await collect(provider(http, server), request(tools=[WEATHER]))
    assert summary(events) == [
        ("text", "Let me check."),
        ("tool-start", ("tooluse_7", "getWeather")),
        ("tool-delta", ("tooluse_7", '{"ci')),
        ("tool-delta", ("tooluse_7", 'ty": "Oslo"}')),
        ("tool-end", ("tooluse_7", "getWeather", {"city": "Oslo"}, None)),
        ("tool-start", ("tooluse_8", "ping")),
        ("tool-end", ("tooluse_8", "ping", {}, None)),
        ("finish", "tool-calls"),
    ]


async def test_tool_input_that_is_not_json_is_flagged(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    blocks = [tool_use_block("tooluse_9", "getWeather", ['{"city": '])]
    server.queue(converse_reply(blocks, stop_reason="tool_use"))
    [*_, end, _finish] = summary(await collect(provider(http, server), request()))
    assert end == ("tool-end", ("tooluse_9", "getWeather", '{"city": ', INVALID_ARGS))


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content-filter"),
        ("content_filtered", "content-filter"),
        ("something_new", "other"),
    ],
)
async def test_stop_reasons_map_to_finish_reasons(
    http: aiohttp.ClientSession, server: FakeBedrockServer, stop_reason: str, finish: str
) -> None:
    server.queue(converse_reply([text_block(["x"])], stop_reason=stop_reason))
    assert finish_of(await collect(provider(http, server), request())).reason == finish


async def test_frames_split_across_chunks_are_reassembled(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    stream = b"".join(
        event_frame(kind, payload)
        for kind, payload in converse_events([text_block(["Hel", "lo ", "world"])])
    )
    server.queue(Reply(chunks=[stream[i : i + 7] for i in range(0, len(stream), 7)],
                       content_type="application/vnd.amazon.eventstream"))  # fmt: skip
    events = await collect(provider(http, server), request())
    assert summary(events) == [("text", "Hello world"), ("finish", "stop")]


def test_fake_frames_are_what_botocore_decodes() -> None:
    frames = [event_frame(k, p) for k, p in converse_events([text_block(["a", "b"])])]
    frames.append(exception_frame("throttlingException", "slow down"))
    reference = EventStreamBuffer()
    reference.add_data(b"".join(frames))
    ours = EventStreamDecoder("test").feed(b"".join(frames))
    # (botocore's stubs type `headers` as int; it is the dict of decoded headers)
    theirs = [(cast(dict[str, Any], m.headers), m.payload) for m in reference]
    assert [(dict(h), p) for h, p in ours] == theirs
    assert len(ours) == 7
    assert theirs[-1][0][":exception-type"] == "throttlingException"


# --- failures -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, errors.MSG_BAD_REQUEST),
        (403, errors.MSG_CREDENTIALS),
        (404, errors.MSG_NOT_FOUND),
        (429, errors.MSG_RATE_LIMIT),
        (500, errors.MSG_UNAVAILABLE),
        (503, errors.MSG_UNAVAILABLE),
    ],
)
async def test_http_error_becomes_a_short_public_message(
    http: aiohttp.ClientSession, server: FakeBedrockServer, status: int, message: str
) -> None:
    server.queue(error_reply(status, "internal-detail-71"))
    _, error = await collect_until_error(provider(http, server), request())
    assert error.public_message == message
    assert error.status == status
    assert "internal-detail-71" in error.detail


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        ("throttlingException", errors.MSG_RATE_LIMIT),
        ("validationException", errors.MSG_BAD_REQUEST),
        ("modelStreamErrorException", errors.MSG_FAILED),
        ("serviceUnavailableException", errors.MSG_UNAVAILABLE),
        ("internalServerException", errors.MSG_UNAVAILABLE),
        ("somethingNewException", errors.MSG_FAILED),
    ],
)
async def test_exception_frame_mid_stream_becomes_a_short_message(
    http: aiohttp.ClientSession, server: FakeBedrockServer, exception: str, message: str
) -> None:
    events = converse_events([text_block(["partial"])])[:2]  # messageStart, one delta
    frames = [event_frame(kind, payload) for kind, payload in events]
    server.queue(frames_reply([*frames, exception_frame(exception, "internal-detail-72")]))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "partial"
    assert error.public_message == message
    assert "internal-detail-72" in error.detail
    assert exception in error.detail


async def test_corrupted_crc_is_a_malformed_reply(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    frames = [
        event_frame(kind, payload) for kind, payload in converse_events([text_block(["a", "b"])])
    ]
    frames[2] = corrupt_crc(frames[2])  # the second text delta
    server.queue(frames_reply(frames))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "a"
    assert error.public_message == errors.MSG_MALFORMED
    assert "CRC" in error.detail


async def test_corrupted_prelude_is_a_malformed_reply(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    frame = bytearray(event_frame("messageStart", {"role": "assistant"}))
    frame[3] ^= 0x01  # the total length, so the prelude CRC no longer matches
    server.queue(frames_reply([bytes(frame)]))
    _, error = await collect_until_error(provider(http, server), request())
    assert error.public_message == errors.MSG_MALFORMED


async def test_truncated_frame_at_the_end_is_a_malformed_reply(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    frames = [event_frame(kind, payload) for kind, payload in converse_events([text_block(["a"])])]
    frames[-2] = frames[-2][:20]  # messageStop cut short, then the body ends cleanly
    server.queue(frames_reply(frames[:-1]))
    _, error = await collect_until_error(provider(http, server), request())
    assert error.public_message == errors.MSG_MALFORMED
    assert "inside a frame" in error.detail


async def test_payload_that_is_not_json_is_a_malformed_reply(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    bad = encode_frame({":event-type": "contentBlockDelta", ":message-type": "event"}, b"{nope")
    server.queue(frames_reply([event_frame("messageStart", {"role": "assistant"}), bad]))
    _, error = await collect_until_error(provider(http, server), request())
    assert error.public_message == errors.MSG_MALFORMED


async def test_stream_ending_before_message_stop_is_reported(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(events_reply(converse_events([text_block(["cut"])])[:-2]))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "cut"
    assert error.public_message == errors.MSG_CLOSED


async def test_stream_without_metadata_still_finishes(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(events_reply(converse_events([text_block(["ok"])])[:-1]))
    events = await collect(provider(http, server), request())
    assert summary(events) == [("text", "ok"), ("finish", "stop")]
    assert finish_of(events).usage.output_tokens == 0


async def test_dropped_connection_is_reported(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(converse_reply([text_block(["a", "b", "c"])], drop_after=3))
    received, error = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "ab"
    assert error.public_message == errors.MSG_CLOSED


async def test_stalled_stream_is_cut_after_the_idle_timeout(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(converse_reply([text_block(["a"])], stall_after=2, stall_seconds=30))
    started = time.perf_counter()
    received, error = await collect_until_error(provider(http, server, idle_timeout=0.3), request())
    assert text_of(received) == "a"
    assert error.public_message == errors.MSG_IDLE
    assert time.perf_counter() - started < 3


async def test_unreachable_endpoint_is_reported(http: aiohttp.ClientSession) -> None:
    with FakeBedrockServer() as gone:
        origin = gone.origin
    dead = BedrockProvider(http, signer(), endpoint_url=origin, connect_timeout=2)
    _, error = await collect_until_error(dead, request())
    assert error.public_message == errors.MSG_UNREACHABLE


async def test_cancellation_closes_the_upstream_connection(
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(converse_reply([text_block(["first ", "second"])], stall_after=2))
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
    http: aiohttp.ClientSession, server: FakeBedrockServer
) -> None:
    server.queue(converse_reply([text_block(["one"])], delay=0.05))  # the end comes late
    assert text_of(await collect(provider(http, server), request())) == "one"
    assert text_of(await collect(provider(http, server), request())) == DEFAULT_TEXT
    assert (len(server.requests), server.connections, server.disconnects) == (2, 1, 0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://blob.example.com/cat.png", MSG_IMAGE_URL),
        ("data:image/tiff;base64,AAAA", MSG_IMAGE_FORMAT),
    ],
)
async def test_image_bedrock_cannot_take_fails_before_any_request(
    http: aiohttp.ClientSession, server: FakeBedrockServer, url: str, message: str
) -> None:
    messages = [ModelMessage("user", [TextPart("What is this?"), ImagePart(url, "image/png")])]
    _, error = await collect_until_error(provider(http, server), request(messages=messages))
    assert (error.public_message, error.status) == (message, 400)
    assert server.heads == 0


# --- configuration ------------------------------------------------------------------------
def test_credentials_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_aws_environment(monkeypatch, tmp_path)
    for name, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(name, value)
    assert load_signer(REGION).region == REGION


def settings_for(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**NO_PROVIDERS, "environment": "test", **values})


async def test_region_without_credentials_fails_at_start(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_aws_environment(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match="BEDROCK_REGION is set but no AWS credentials"):
        build_registry(settings_for(bedrock_region=REGION), http)


async def test_models_file_routes_a_model_to_bedrock(
    http: aiohttp.ClientSession,
    server: FakeBedrockServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    no_aws_environment(monkeypatch, tmp_path)
    for name, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(name, value)
    models = tmp_path / "models.json"
    entry = {"id": "bedrock/claude", "backend": "bedrock", "upstream_model": MODEL}
    models.write_bytes(orjson.dumps({"models": [entry]}))
    settings = settings_for(
        bedrock_region=REGION, bedrock_endpoint_url=server.origin,
        chat_models_file=models, default_chat_model="bedrock/claude",
    )  # fmt: skip
    resolved = build_registry(settings, http).resolve("bedrock/claude")
    assert (resolved.backend, resolved.upstream_model) == ("bedrock", MODEL)
    outgoing = ModelRequest(model=resolved.upstream_model, messages=[user("Hi")])
    assert text_of(await collect(resolved.provider, outgoing)) == DEFAULT_TEXT
    assert server.requests[0].path.startswith("/model/anthropic.claude-3-5-haiku")
    assert server.bad_signatures == []
