"""The reusable throttle (core.ratelimit) on both backends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from chatbot_api.core.errors import RateLimited
from chatbot_api.core.ratelimit import (
    MemoryRateLimitBackend,
    RateLimitBackend,
    RedisRateLimitBackend,
    Throttle,
    client_ip,
)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitBackend]:
    if request.param == "memory":
        yield MemoryRateLimitBackend()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    yield RedisRateLimitBackend(redis)
    await redis.aclose()


def _throttle(backend: RateLimitBackend, limit: int, window: int = 60) -> Throttle:
    return Throttle(
        name="t",
        limit=limit,
        window_seconds=window,
        backend=backend,
        key_prefix=f"test:{uuid.uuid4().hex[:8]}:",
        code="rate_limit:auth",
    )


async def test_throttle_allows_exactly_the_limit(backend: RateLimitBackend) -> None:
    throttle = _throttle(backend, 3)
    decisions = [await throttle.hit("1.2.3.4") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 1 <= decisions[-1].retry_after <= 60


async def test_throttle_counts_subjects_separately(backend: RateLimitBackend) -> None:
    throttle = _throttle(backend, 1)
    assert (await throttle.hit("a")).allowed
    assert (await throttle.hit("b")).allowed
    assert not (await throttle.hit("a")).allowed


async def test_throttle_check_raises_rate_limited_with_retry_after(
    backend: RateLimitBackend,
) -> None:
    throttle = _throttle(backend, 1, window=30)
    await throttle.check("x")
    with pytest.raises(RateLimited) as caught:
        await throttle.check("x")
    assert caught.value.code == "rate_limit:auth"
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 30


async def test_throttle_with_zero_limit_never_blocks(backend: RateLimitBackend) -> None:
    throttle = _throttle(backend, 0)
    assert all([(await throttle.hit("x")).allowed for _ in range(5)])


async def test_throttle_window_expiry_allows_again(backend: RateLimitBackend) -> None:
    throttle = _throttle(backend, 1, window=1)
    await throttle.hit("x")
    assert not (await throttle.hit("x")).allowed
    await asyncio.sleep(1.1)
    assert (await throttle.hit("x")).allowed


def test_client_ip_uses_forwarded_for_only_when_trusted() -> None:
    assert client_ip("10.0.0.1", "203.0.113.9, 10.0.0.1", trust_proxy_headers=True) == (
        "203.0.113.9"
    )
    assert client_ip("10.0.0.1", "203.0.113.9", trust_proxy_headers=False) == "10.0.0.1"
    assert client_ip(None, None, trust_proxy_headers=True) == "unknown"
