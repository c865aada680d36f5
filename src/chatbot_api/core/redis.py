"""The optional Redis client (built in the lifespan when REDIS_URL is set)."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str | None) -> Redis | None:
    if not url:
        return None
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)
