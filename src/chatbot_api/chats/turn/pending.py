"""Replies waiting to be saved while the database is unreachable: in files under the data
directory, or in Redis (any worker saves them); each entry is one reply, keyed by its turn."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol, cast

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("chatbot_api.turn")


class PendingReplies(Protocol):
    async def put(self, key: str, record: bytes) -> None:
        """Keep the record until `remove(key)`; survives a restart of this worker."""

    async def items(self) -> list[tuple[str, bytes]]:
        """Every record kept now."""

    async def remove(self, key: str) -> None: ...


class FilePendingReplies:
    """One file per reply in `directory` (written to a temporary name, then renamed)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    async def put(self, key: str, record: bytes) -> None:
        await asyncio.to_thread(self._write, key, record)

    def _write(self, key: str, record: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        temporary = self._dir / f".{key}.tmp"
        temporary.write_bytes(record)
        os.replace(temporary, self._dir / f"{key}.json")

    async def items(self) -> list[tuple[str, bytes]]:
        return await asyncio.to_thread(self._read_all)

    def _read_all(self) -> list[tuple[str, bytes]]:
        if not self._dir.is_dir():
            return []
        return [(path.stem, path.read_bytes()) for path in sorted(self._dir.glob("*.json"))]

    async def remove(self, key: str) -> None:
        await asyncio.to_thread((self._dir / f"{key}.json").unlink, missing_ok=True)


class RedisPendingReplies:
    """A Redis hash shared by every worker; a record Redis cannot take goes to `fallback`."""

    def __init__(self, redis: Redis, prefix: str, fallback: PendingReplies) -> None:
        self._redis = redis
        self._key = f"{prefix}pending-replies"
        self._fallback = fallback

    async def put(self, key: str, record: bytes) -> None:
        try:
            await self._redis.hset(self._key, key, record)
        except (RedisError, OSError) as exc:
            log.warning("pending reply kept locally (Redis unreachable)", error=repr(exc))
            await self._fallback.put(key, record)

    async def items(self) -> list[tuple[str, bytes]]:
        local = await self._fallback.items()
        try:
            shared = cast("dict[bytes, bytes]", await self._redis.hgetall(self._key))
        except (RedisError, OSError):
            return local
        return local + [(key.decode(), value) for key, value in shared.items()]

    async def remove(self, key: str) -> None:
        await self._fallback.remove(key)
        try:
            await self._redis.hdel(self._key, key)
        except (RedisError, OSError):
            log.warning("a saved reply stays listed as pending (Redis unreachable)", key=key)
