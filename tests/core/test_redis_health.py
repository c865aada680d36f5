"""RedisHealth, the seam every Redis feature with a local fallback shares: a failed Redis is
left alone for a while (callers fail fast), then one call tries it again and its success is
the recovery. Against the test's own redis-server, stopped and started."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from chatbot_api.core.redis import RedisHealth, RedisUnavailable, create_redis
from tests.outages.redis_server import RedisServer

RETRY = 0.3


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = create_redis(redis_server.url)
    assert client is not None
    yield client
    await client.aclose()


class CountedPing:
    """PING, counting how often Redis was actually asked."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return bool(await self.redis.ping())


async def test_a_failed_redis_is_not_asked_again_until_the_retry_time(
    redis: Redis, redis_server: RedisServer
) -> None:
    health = RedisHealth(retry_seconds=RETRY)
    ping = CountedPing(redis)
    assert await health.call(ping)
    redis_server.stop()
    with pytest.raises(RedisUnavailable):
        await health.call(ping)
    assert not health.up
    for _ in range(5):
        with pytest.raises(RedisUnavailable):
            await health.call(ping)
    assert ping.calls == 2  # the five calls above failed fast, without asking Redis
    assert 0 < health.retry_in <= RETRY


async def test_the_first_call_after_the_retry_time_is_the_recovery(
    redis: Redis, redis_server: RedisServer
) -> None:
    health = RedisHealth(retry_seconds=RETRY)
    redis_server.stop()
    with pytest.raises(RedisUnavailable):
        await health.call(redis.ping)
    redis_server.start()
    with pytest.raises(RedisUnavailable):
        await health.call(redis.ping)  # too early: not tried
    await asyncio.sleep(RETRY)
    assert health.retry_in == 0
    assert await health.call(redis.ping)
    assert health.up


async def test_a_frozen_redis_costs_one_call_the_timeout_and_the_others_nothing(
    redis_server: RedisServer,
) -> None:
    client = create_redis(redis_server.url, timeout=0.5)
    assert client is not None
    health = RedisHealth(retry_seconds=RETRY)
    ping = CountedPing(client)
    try:
        await client.ping()
        redis_server.freeze()
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):
            await health.call(ping)
        assert 0.4 < time.monotonic() - started < 1.5  # the timeout, not a hang
        await asyncio.sleep(RETRY)
        calls = [asyncio.ensure_future(health.call(ping)) for _ in range(5)]
        done, probing = await asyncio.wait(calls, timeout=0.2)
        assert (len(done), len(probing)) == (4, 1)  # one probe; the others failed fast
        assert all(isinstance(call.exception(), RedisUnavailable) for call in done)
        (probe,) = probing
        with pytest.raises(RedisUnavailable):
            await probe  # asked the frozen Redis, and gave up at the timeout
        assert ping.calls == 2
    finally:
        redis_server.thaw()
        await client.aclose()
