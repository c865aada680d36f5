"""Denylist of access-token ids (`jti`) until their expiry: in memory, or in Redis for all
workers."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

from redis.asyncio import Redis

_PURGE_EVERY = 256


class RevokedTokens(Protocol):
    async def is_revoked(self, jti: str) -> bool: ...

    async def revoke(self, jti: str, until: datetime) -> None: ...


class MemoryRevokedTokens:
    """This process only (no REDIS_URL)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._writes = 0

    async def is_revoked(self, jti: str) -> bool:
        until = self._until.get(jti)
        return until is not None and until > time.time()

    async def revoke(self, jti: str, until: datetime) -> None:
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            now = time.time()
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[jti] = until.timestamp()


class RedisRevokedTokens:
    """One key per revoked token, expiring with the token (`SET key 1 EXAT exp`)."""

    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}revoked-token:"

    async def is_revoked(self, jti: str) -> bool:
        return bool(await self._redis.exists(self._prefix + jti))

    async def revoke(self, jti: str, until: datetime) -> None:
        expires = int(until.timestamp()) + 1
        if expires > time.time():
            await self._redis.set(self._prefix + jti, b"1", exat=expires)
