"""The optional Redis client (built in the lifespan when REDIS_URL is set), and the pub/sub
subscription the features that hear from other workers share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

SUBSCRIBE_TIMEOUT = 5.0  # for Redis to confirm a subscription
PING_SECONDS = 30.0  # a silent subscription is pinged this often; no pong by the next: lost
RETRY_SECONDS = 1.0


def create_redis(url: str | None) -> Redis | None:
    if not url:
        return None
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)


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
    again a second later. Cancel the task to stop."""
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(*channels)
            await _confirmed(pubsub, len(channels))
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
        except (RedisError, OSError):
            log.exception("redis_subscription_failed", subscription=name)
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
