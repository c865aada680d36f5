"""Chooses the stream log: Redis Streams when Redis is configured, else in-process memory."""

from __future__ import annotations

from redis.asyncio import Redis

from chatbot_api.core.config import Settings
from chatbot_api.core.redis import RedisHealth
from chatbot_api.streaming.log import Recovery, StreamLog
from chatbot_api.streaming.memory import MemoryStreamLog
from chatbot_api.streaming.redis_log import RedisStreamLog


def create_stream_log(
    settings: Settings,
    redis: Redis | None,
    recover: Recovery | None = None,
    health: RedisHealth | None = None,
) -> StreamLog:
    """Build the app's stream log (call in the lifespan, then `start()`; `aclose()` it on
    shutdown). With Redis, `recover` ends the turns of workers that died, and the memory
    log holds the logs opened while Redis fails (`health`, the worker's Redis health)."""
    memory = MemoryStreamLog(
        live_ttl=settings.stream_log_ttl_seconds,
        closed_ttl=settings.stream_log_closed_ttl_seconds,
        max_closed_bytes=settings.stream_log_memory_max_closed_bytes,
    )
    if redis is None:
        return memory
    return RedisStreamLog(
        redis,
        prefix=settings.redis_key_prefix,
        flush_ms=settings.stream_log_flush_ms,
        live_ttl=settings.stream_log_ttl_seconds,
        closed_ttl=settings.stream_log_closed_ttl_seconds,
        recover=recover,
        fallback=memory,
        health=health,
    )
