"""The revoked-token mirror with Redis: each worker answers from memory only while its
subscription is live and loaded; a revocation returns once every worker has it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from chatbot_api.auth.revocation import RedisRevokedTokens

SOON = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:8]}:"


async def _mirroring(tokens: RedisRevokedTokens, want: bool = True) -> None:
    for _ in range(1000):  # 10 s
        if tokens.mirroring is want:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"mirroring stayed {not want}")


def _without_redis_reads(monkeypatch: pytest.MonkeyPatch, client: Redis) -> None:
    async def unreachable(*_args: Any, **_kwargs: Any) -> int:
        raise AssertionError("the mirror should answer without Redis")

    monkeypatch.setattr(client, "exists", unreachable)


async def test_a_revocation_reaches_every_worker_before_it_returns(
    redis: Redis, redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(3)]
    workers = [RedisRevokedTokens(client, prefix) for client in clients]
    try:
        for worker, client in zip(workers, clients, strict=True):
            worker.start()
            await _mirroring(worker)
            _without_redis_reads(monkeypatch, client)
        jti = uuid.uuid4().hex
        assert not await workers[2].is_revoked(jti)
        await workers[0].revoke(jti, SOON)
        # No waiting: every worker has it already, from memory.
        assert [await worker.is_revoked(jti) for worker in workers] == [True, True, True]
        assert await redis.exists(f"{prefix}revoked-token:{jti}")
    finally:
        for worker, client in zip(workers, clients, strict=True):
            await worker.aclose()
            await client.aclose()


async def test_a_revocation_waits_for_a_slow_worker_to_have_it(
    redis: Redis, redis_url: str, prefix: str
) -> None:
    """The guarantee itself: `revoke` returns only once every subscribed worker has applied
    the revocation, however late its listener gets to it."""
    listener = Redis.from_url(redis_url)
    slow = RedisRevokedTokens(listener, prefix)
    applied = slow._on_message

    async def late(channel: bytes, data: bytes) -> None:
        await asyncio.sleep(0.3)
        await applied(channel, data)

    slow._on_message = late  # type: ignore[method-assign]
    revoker = RedisRevokedTokens(redis, prefix)
    slow.start()
    try:
        await _mirroring(slow)
        jti = uuid.uuid4().hex
        started = time.monotonic()
        await revoker.revoke(jti, SOON)
        assert time.monotonic() - started >= 0.3
        assert await slow.is_revoked(jti)  # from its memory: mirroring
        assert slow.mirroring
    finally:
        await slow.aclose()
        await revoker.aclose()
        await listener.aclose()


async def test_a_worker_started_later_loads_the_revocations_made_before(
    redis: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = RedisRevokedTokens(redis, prefix)
    revoked = [uuid.uuid4().hex for _ in range(3)]
    for jti in revoked:
        await first.revoke(jti, SOON)
    await first.aclose()
    later = RedisRevokedTokens(redis, prefix)
    later.start()
    try:
        await _mirroring(later)
        _without_redis_reads(monkeypatch, redis)
        assert [await later.is_revoked(jti) for jti in revoked] == [True, True, True]
        assert not await later.is_revoked(uuid.uuid4().hex)
    finally:
        await later.aclose()


async def test_before_its_subscription_is_live_a_worker_asks_redis(
    redis: Redis, prefix: str
) -> None:
    jti = uuid.uuid4().hex
    await redis.set(f"{prefix}revoked-token:{jti}", b"1", ex=60)
    tokens = RedisRevokedTokens(redis, prefix)
    try:
        assert not tokens.mirroring
        assert await tokens.is_revoked(jti)  # from Redis: nothing is mirrored yet
        assert not await tokens.is_revoked(uuid.uuid4().hex)
    finally:
        await tokens.aclose()


async def test_a_lost_subscription_falls_back_to_redis_then_reloads(
    redis: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = RedisRevokedTokens(redis, prefix)
    tokens.start()
    try:
        await _mirroring(tokens)
        await redis.client_kill_filter(_type="pubsub")
        await _mirroring(tokens, want=False)
        # Revoked while this worker hears nothing (its publish reaches no one here).
        missed = uuid.uuid4().hex
        await redis.set(f"{prefix}revoked-token:{missed}", b"1", ex=60)
        assert await tokens.is_revoked(missed)  # asked Redis
        await _mirroring(tokens)  # resubscribed and reloaded
        _without_redis_reads(monkeypatch, redis)
        assert await tokens.is_revoked(missed)
    finally:
        await tokens.aclose()


async def test_a_worker_that_never_acknowledges_delays_a_revocation_only_so_long(
    redis: Redis, redis_url: str, prefix: str
) -> None:
    listener = Redis.from_url(redis_url)
    deaf = listener.pubsub()
    await deaf.subscribe(f"{prefix}revoked-tokens")  # subscribed, never acknowledges
    tokens = RedisRevokedTokens(redis, prefix, ack_timeout=0.3)
    try:
        started = time.monotonic()
        jti = uuid.uuid4().hex
        await tokens.revoke(jti, SOON)
        assert time.monotonic() - started >= 0.3
        assert await tokens.is_revoked(jti)
        assert await redis.exists(f"{prefix}revoked-token:{jti}")
    finally:
        await tokens.aclose()
        await deaf.aclose()  # type: ignore[no-untyped-call]
        await listener.aclose()


async def test_an_expired_token_is_not_revoked_again(redis: Redis, prefix: str) -> None:
    tokens = RedisRevokedTokens(redis, prefix)
    try:
        jti = uuid.uuid4().hex
        await tokens.revoke(jti, datetime.now(UTC) - timedelta(seconds=5))
        assert not await redis.exists(f"{prefix}revoked-token:{jti}")
        assert not await tokens.is_revoked(jti)
    finally:
        await tokens.aclose()
