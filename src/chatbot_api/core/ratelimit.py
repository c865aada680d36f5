"""Request throttles: fixed-window counters on an in-memory or a Redis backend (which counts in
memory while Redis is unreachable), and client IPs."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from chatbot_api.core.errors import RateLimited
from chatbot_api.core.redis import RedisHealth, RedisUnavailable

# One atomic step: count the hit, start the window on the first hit, report the window's rest.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

_PURGE_EVERY = 1024


class RateLimitBackend(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count one hit on `key`; return (hits in the current window, seconds it has left)."""
        ...


class MemoryRateLimitBackend:
    """Counters in this process only (no REDIS_URL): right for one worker, not for several."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._hits = 0

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = time.monotonic()
        self._hits += 1
        if self._hits % _PURGE_EVERY == 0:
            self._purge(now)
        count, resets_at = self._windows.get(key, (0, 0.0))
        if resets_at <= now:
            count, resets_at = 0, now + window_seconds
        count += 1
        self._windows[key] = (count, resets_at)
        return count, resets_at - now

    def _purge(self, now: float) -> None:
        for key in [k for k, (_, resets_at) in self._windows.items() if resets_at <= now]:
            del self._windows[key]


class RedisRateLimitBackend:
    """Counters shared by every worker: one Lua script per hit (INCR + PEXPIRE, atomic).

    While Redis is unreachable (per `health`) this process counts alone, in memory, so a
    throttle still throttles (per worker) instead of failing the request; hits go back to
    Redis as soon as it answers again.
    """

    def __init__(self, redis: Redis, health: RedisHealth | None = None) -> None:
        self._script = redis.register_script(_HIT_SCRIPT)
        self._health = health or RedisHealth()
        self._local = MemoryRateLimitBackend()

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        try:
            count, ttl_ms = await self._health.call(
                self._script, keys=[key], args=[window_seconds * 1000]
            )
        except RedisUnavailable:
            return await self._local.hit(key, window_seconds)
        return int(count), int(ttl_ms) / 1000


def create_rate_limit_backend(
    redis: Redis | None, health: RedisHealth | None = None
) -> RateLimitBackend:
    if redis is None:
        return MemoryRateLimitBackend()
    return RedisRateLimitBackend(redis, health)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # whole seconds until the window resets


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most `limit` hits per `window_seconds` per subject; a limit of 0 disables it.

    Subjects (an IP, an e-mail address) are hashed into the key, so no personal data sits in
    Redis. Over the limit, `check` raises RateLimited with `code` and a Retry-After.
    """

    name: str
    limit: int
    window_seconds: int
    backend: RateLimitBackend
    key_prefix: str = ""
    code: str = "rate_limit:api"

    def key(self, subject: str) -> str:
        digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]
        return f"{self.key_prefix}ratelimit:{self.name}:{digest}"

    async def hit(self, subject: str) -> Decision:
        if self.limit <= 0:
            return Decision(allowed=True, count=0, retry_after=0)
        count, seconds_left = await self.backend.hit(self.key(subject), self.window_seconds)
        return Decision(
            allowed=count <= self.limit,
            count=count,
            retry_after=max(1, math.ceil(seconds_left)),
        )

    async def check(self, subject: str) -> None:
        decision = await self.hit(subject)
        if not decision.allowed:
            raise RateLimited(
                decision.retry_after,
                f"Too many attempts. Try again in {decision.retry_after} seconds.",
                code=self.code,
            )


def client_ip(host: str | None, forwarded_for: str | None, *, trust_proxy_headers: bool) -> str:
    """The caller's address: the first X-Forwarded-For hop behind a trusted proxy, else the
    socket peer."""
    if trust_proxy_headers and forwarded_for:
        first = forwarded_for.split(",", 1)[0].strip()
        if first:
            return first
    return host or "unknown"
