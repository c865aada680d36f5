"""The optional Redis client (built in the lifespan when REDIS_URL is set), the tracker of
whether it answers (so features fall back to local state while it does not), and the pub/sub
subscription the features that hear from other workers share."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import ParamSpec, TypeVar

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

SUBSCRIBE_TIMEOUT = 5.0  # for Redis to confirm a subscription
PING_SECONDS = 30.0  # a silent subscription is pinged this often; no pong by the next: lost
RETRY_SECONDS = 1.0
DEFAULT_TIMEOUT = 1.0  # seconds to connect, and to wait for an answer
RETRY_AFTER_FAILURE = 2.0  # seconds a failed Redis is left alone before it is tried again

# What a Redis call raises when Redis is unreachable, slow, or refusing (OOM, READONLY, ...).
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)

P = ParamSpec("P")
T = TypeVar("T")


def create_redis(url: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> Redis | None:
    """The client, or None without a URL. Connecting and every answer are bounded by
    `timeout`, so a blackholed Redis costs a request at most that long, never a hang."""
    if not url:
        return None
    return Redis.from_url(
        url,
        decode_responses=False,
        health_check_interval=30,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )


class RedisUnavailable(Exception):
    """Redis failed just now, or lately and is not tried yet: use the local fallback."""


class RedisHealth:
    """Whether this worker's Redis answers, shared by every feature that has a local fallback
    (revoked tokens, throttles, readiness). One failure puts them all on their fallback for
    `retry_seconds`, so an outage costs one bounded call per interval rather than one per
    request, and logs one warning when Redis goes and one info line when it is back.

    - `await health.call(fn, *args, **kwargs)`: `await fn(...)`'s result. Raises
      RedisUnavailable (chained to the Redis error) when it fails, and without calling `fn`
      while Redis is down and was tried less than `retry_seconds` ago. Once that time is up,
      one call tries Redis again (the others keep failing fast meanwhile); its success is the
      recovery, no restart needed.
    - `health.failed(exc)` / `health.succeeded()`: the same bookkeeping for code that talks to
      Redis itself (a subscription); `health.up` and `health.retry_in` for those that report.
    """

    def __init__(self, *, retry_seconds: float = RETRY_AFTER_FAILURE, name: str = "redis") -> None:
        self.retry_seconds = retry_seconds
        self.name = name
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def up(self) -> bool:
        """False from a failure until the next success."""
        return self._down_since is None

    @property
    def retry_in(self) -> float:
        """Seconds until a call tries Redis again (0 when it is up or may be tried now)."""
        if self._down_since is None:
            return 0.0
        return max(0.0, self._retry_at - time.monotonic())

    async def call(
        self, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if self._down_since is not None:
            now = time.monotonic()
            if now < self._retry_at:
                raise RedisUnavailable(f"{self.name} is unreachable; not tried yet")
            self._retry_at = now + self.retry_seconds  # this call probes; the others wait
        try:
            result = await operation(*args, **kwargs)
        except REDIS_ERRORS as exc:
            self.failed(exc)
            raise RedisUnavailable(f"{self.name} is unreachable: {exc}") from exc
        self.succeeded()
        return result

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + self.retry_seconds
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "redis unreachable",
                redis=self.name,
                error=f"{type(exc).__name__}: {exc}",
                retry_seconds=self.retry_seconds,
            )

    def succeeded(self) -> None:
        if self._down_since is not None:
            down = time.monotonic() - self._down_since
            self._down_since = None
            log.info("redis reachable again", redis=self.name, down_seconds=round(down, 1))


class SubscriptionLost(RedisError):
    """Redis did not confirm the subscription, or answer its ping, in time."""


async def listen(
    redis: Redis,
    channels: Sequence[str],
    on_message: Callable[[bytes, bytes], Awaitable[None]],
    *,
    on_ready: Callable[[], Awaitable[None]] | None = None,
    on_lost: Callable[[], None] | None = None,
    name: str = "subscription",
) -> None:
    """Forever: subscribe to `channels`; once Redis has confirmed every one (from then on no
    message published to them is missed), `on_ready()`; then `on_message(channel, data)` for
    each message, in order. When the subscription fails or falls silent: `on_lost()`, and
    again a second later; an outage is logged once, its end too. Cancel the task to stop.

    A lost subscription is not taken as Redis being down for commands (the app's shared
    RedisHealth): a dropped pub/sub connection alone should not send throttles local."""
    health = RedisHealth(retry_seconds=RETRY_SECONDS, name=f"subscription {name}")
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(*channels)
            await _confirmed(pubsub, len(channels))
            health.succeeded()
            if on_ready is not None:
                await on_ready()
            pinged = False
            while True:
                message = await pubsub.get_message(timeout=PING_SECONDS)
                if message is None:
                    if pinged:
                        raise SubscriptionLost("no answer to the subscription's ping")
                    await pubsub.ping()
                    pinged = True
                    continue
                pinged = False
                if message["type"] == "message":
                    await on_message(message["channel"], message["data"])
        except REDIS_ERRORS as exc:
            health.failed(exc)
            if on_lost is not None:
                on_lost()
            await asyncio.sleep(RETRY_SECONDS)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a task that talks to Redis and wait for its end. Cancelled while it connects,
    redis-py (8.1) can swallow the cancellation, so it is repeated until the task ends."""
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)


async def _confirmed(pubsub: PubSub, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SUBSCRIBE_TIMEOUT
    confirmed = 0
    while confirmed < count:
        left = deadline - loop.time()
        if left <= 0:
            raise SubscriptionLost("the subscription was not confirmed")
        message = await pubsub.get_message(timeout=left)
        if message is not None and message["type"] == "subscribe":
            confirmed += 1
