"""Retries and fallbacks before the first token, none after it: against fake providers, and
through a real OpenAI-compatible provider on a fake upstream (Retry-After, 503, connect)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from chatbot_api.ai.base import (
    ModelEvent,
    ModelMessage,
    ModelRequest,
    ProviderError,
    StepFinish,
    TextDelta,
    TextPart,
    Usage,
)
from chatbot_api.ai.providers import errors
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.ai.resilience import RetryPolicy, Target, open_stream
from tests.fakes.openai_server import FakeOpenAIServer, error_reply, stream_reply, text_stream

FAST = RetryPolicy(retries=2, base_delay=0.01, max_delay=1.0)


class Scripted:
    """A provider failing with the queued errors, then streaming `text`; it records calls."""

    def __init__(self, *failures: ProviderError, text: str = "ok", fail_after_first: bool = False):
        self.failures = list(failures)
        self.text = text
        self.fail_after_first = fail_after_first
        self.calls: list[str] = []
        self.closed = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        self.calls.append(request.model)
        try:
            if self.failures:
                raise self.failures.pop(0)
            yield TextDelta(self.text)
            if self.fail_after_first:
                raise ProviderError(errors.MSG_CLOSED, status=503)
            yield StepFinish("stop", Usage())
        finally:
            self.closed += 1

    async def aclose(self) -> None:
        return None


def target(provider: Any, model: str = "m", name: str = "p") -> Target:
    return Target(provider, name, model, f"id-{model}", reasoning=False)


def request() -> ModelRequest:
    return ModelRequest(model="x", messages=[ModelMessage("user", [TextPart("hi")])])


async def texts(stream: AsyncIterator[ModelEvent]) -> str:
    return "".join([event.text async for event in stream if isinstance(event, TextDelta)])


async def events_of(
    targets: list[Target], request: ModelRequest, policy: RetryPolicy
) -> AsyncIterator[ModelEvent]:
    stream, _ = await open_stream(targets, request, policy)
    async for event in stream:
        yield event


def unavailable(**extra: Any) -> ProviderError:
    return ProviderError(errors.MSG_UNAVAILABLE, status=503, **extra)


async def test_a_retryable_failure_is_retried_then_streams() -> None:
    provider = Scripted(unavailable(), unavailable())
    stream, answered = await open_stream([target(provider)], request(), FAST)
    assert provider.calls == ["m", "m", "m"]  # the first event was read before it returned
    assert answered.upstream_model == "m"
    assert await texts(stream) == "ok"
    assert provider.closed == 3


async def test_retries_are_bounded_then_the_fallback_answers() -> None:
    primary = Scripted(unavailable(), unavailable(), unavailable())
    backup = Scripted(text="from backup")
    events = events_of([target(primary, "a"), target(backup, "b")], request(), FAST)
    assert await texts(events) == "from backup"
    assert primary.calls == ["a", "a", "a"]  # 1 + 2 retries
    assert backup.calls == ["b"]


async def test_a_non_retryable_failure_falls_back_at_once() -> None:
    primary = Scripted(ProviderError(errors.MSG_CREDENTIALS, status=401))
    backup = Scripted(text="backup")
    assert await texts(events_of([target(primary), target(backup)], request(), FAST)) == "backup"
    assert primary.calls == ["m"]


async def test_when_every_target_fails_the_chosen_models_error_is_raised() -> None:
    first_error = ProviderError(errors.MSG_RATE_LIMIT, status=429)
    primary = Scripted(first_error, first_error, first_error)
    backup = Scripted(ProviderError(errors.MSG_CREDENTIALS, status=401))
    with pytest.raises(ProviderError) as caught:
        await open_stream([target(primary), target(backup)], request(), FAST)
    assert caught.value is first_error


async def test_nothing_is_retried_after_the_first_token() -> None:
    provider = Scripted(fail_after_first=True)
    backup = Scripted(text="never")
    stream, _ = await open_stream([target(provider), target(backup)], request(), FAST)
    seen: list[ModelEvent] = []

    async def read_all() -> None:
        async for event in stream:
            seen.append(event)

    with pytest.raises(ProviderError):
        await read_all()
    assert [type(event) for event in seen] == [TextDelta]
    assert (provider.calls, backup.calls) == (["m"], [])


async def test_retry_after_is_honoured_and_a_long_one_moves_on() -> None:
    short = Scripted(unavailable(retry_after=0.3))
    began = time.monotonic()
    await open_stream([target(short)], request(), FAST)
    assert time.monotonic() - began >= 0.3
    long = Scripted(unavailable(retry_after=60))
    backup = Scripted(text="backup")
    began = time.monotonic()
    assert await texts(events_of([target(long), target(backup)], request(), FAST)) == "backup"
    assert time.monotonic() - began < 1
    assert long.calls == ["m"]


def test_backoff_grows_with_full_jitter_and_stops_after_the_retries() -> None:
    policy = RetryPolicy(retries=3, base_delay=1.0, max_delay=3.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 3.0)):
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling / 2  # jittered, not fixed
    assert policy.delay(4, None) is None
    assert policy.delay(1, 2.5) == 2.5
    assert policy.delay(1, 9.0) is None


# --- through the real provider on a fake upstream --------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_a_503_with_retry_after_then_a_stream_gives_the_reply(
    http: aiohttp.ClientSession,
) -> None:
    with FakeOpenAIServer() as server:
        failed = error_reply(503, {"error": {"message": "overloaded", "type": "server_error"}})
        failed.headers["retry-after-ms"] = "200"
        server.queue(failed, stream_reply(text_stream(["Fine ", "now."])))
        provider = OpenAICompatProvider(http, server.base_url, "key")
        began = time.monotonic()
        text = await texts(events_of([target(provider)], request(), FAST))
        assert text == "Fine now."
        assert time.monotonic() - began >= 0.2
        assert len(server.requests) == 2


async def test_an_unreachable_upstream_is_retried_then_falls_back(
    http: aiohttp.ClientSession,
) -> None:
    dead = OpenAICompatProvider(http, "http://127.0.0.1:9/v1", "key", connect_timeout=1)
    with FakeOpenAIServer() as server:
        server.queue(stream_reply(text_stream(["Backup."])))
        backup = OpenAICompatProvider(http, server.base_url, "key")
        text = await texts(events_of([target(dead), target(backup, "b")], request(), FAST))
    assert text == "Backup."
    assert server.requests[0].json()["model"] == "b"
