"""Denylist of access-token ids (`jti`) until their expiry: in memory, or in Redis for all
workers (mirrored in each worker's memory, so that checking a token costs no round trip, and
so that it still works while Redis is unreachable)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol, cast

import structlog
from redis.asyncio import Redis

from chatbot_api.core.redis import RedisHealth, RedisUnavailable, listen, stop_task

log = structlog.get_logger(__name__)

_PURGE_EVERY = 256
ACK_TIMEOUT = 1.0  # the longest a revocation waits for the other workers to have it
_SCAN_COUNT = 1000


class RevokedTokens(Protocol):
    async def is_revoked(self, jti: str) -> bool: ...

    async def revoke(self, jti: str, until: datetime) -> None: ...


class MemoryRevokedTokens:
    """This process only (no REDIS_URL)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._writes = 0

    async def is_revoked(self, jti: str) -> bool:
        return self.has(jti)

    async def revoke(self, jti: str, until: datetime) -> None:
        self.add(jti, until.timestamp())

    def has(self, jti: str) -> bool:
        until = self._until.get(jti)
        return until is not None and until > time.time()

    def add(self, jti: str, until: float) -> None:
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            now = time.time()
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[jti] = until


class _Acks:
    """The acknowledgements of one revocation, counted until the number expected is known."""

    def __init__(self) -> None:
        self.received = 0
        self.expected: int | None = None
        self.complete = asyncio.Event()

    def add(self) -> None:
        self.received += 1
        self._check()

    def expect(self, count: int) -> None:
        self.expected = count
        self._check()

    def _check(self) -> None:
        if self.expected is not None and self.received >= self.expected:
            self.complete.set()


class RedisRevokedTokens:
    """Revoked token ids in Redis, one key each (`SET key 1 EXAT exp`): the truth every worker
    shares. Each worker mirrors them in memory and answers `is_revoked` from the mirror.

    - `revoke` sets the key and publishes the id. Every subscribed worker adds it to its mirror
      and acknowledges; `revoke` returns once all have (or after ACK_TIMEOUT, logged). So a
      request any worker answers after a logout sees the revocation.
    - A worker mirrors only while its subscription is confirmed: it subscribes first, then
      loads every revoked key (SCAN). Until then, and from the moment the subscription is
      lost until it is back and reloaded, it asks Redis (EXISTS) per request.
    - While Redis is unreachable (per `health`), the mirror alone answers, and a revocation
      is kept in it (this worker refuses the token at once) and written and published later,
      as soon as Redis answers, so the other workers learn it then.
    """

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        *,
        ack_timeout: float = ACK_TIMEOUT,
        health: RedisHealth | None = None,
    ) -> None:
        self._redis = redis
        self._health = health or RedisHealth()
        self._prefix = f"{key_prefix}revoked-token:"
        self._channel = f"{key_prefix}revoked-tokens".encode()
        self._ack_channel = f"{key_prefix}revoked-tokens-ack".encode()
        self._ack_timeout = ack_timeout
        self._mirror = MemoryRevokedTokens()
        self._mirroring = False
        self._acks: dict[str, _Acks] = {}
        self._listener: asyncio.Task[None] | None = None
        self._unwritten: dict[str, int] = {}  # revoked while Redis failed: jti -> expiry
        self._writer: asyncio.Task[None] | None = None

    @property
    def mirroring(self) -> bool:
        """Whether `is_revoked` answers from memory (the subscription is live and loaded)."""
        return self._mirroring

    async def is_revoked(self, jti: str) -> bool:
        if self._mirror.has(jti):
            return True
        if self._mirroring:
            return False
        self.start()
        try:
            return await self._health.call(self._stored, jti)
        except RedisUnavailable:
            return False  # what this worker knows (its mirror) is the answer until Redis is back

    async def revoke(self, jti: str, until: datetime) -> None:
        expires = int(until.timestamp()) + 1
        if expires <= time.time():
            return
        self._mirror.add(jti, expires)
        self.start()
        nonce = uuid.uuid4().hex
        acks = self._acks[nonce] = _Acks()
        try:
            try:
                receivers = await self._health.call(self._store, jti, expires, nonce)
            except RedisUnavailable:
                self._write_later(jti, expires)
                return
            acks.expect(receivers)
            try:
                await asyncio.wait_for(acks.complete.wait(), self._ack_timeout)
            except TimeoutError:
                log.warning(
                    "revocation not acknowledged by every worker",
                    workers=acks.expected,
                    acknowledged=acks.received,
                )
        finally:
            del self._acks[nonce]

    def start(self) -> None:
        """Subscribe (in the background) if not yet done."""
        if self._listener is None:
            listener = listen(
                self._redis,
                [self._channel.decode(), self._ack_channel.decode()],
                self._on_message,
                on_ready=self._load,
                on_lost=self._lost,
                name="revoked-tokens",
            )
            self._listener = asyncio.create_task(listener, name="revoked-tokens")

    async def aclose(self) -> None:
        task, self._listener = self._listener, None
        writer, self._writer = self._writer, None
        self._mirroring = False
        await stop_task(task)
        await stop_task(writer)
        if self._unwritten:
            await self._write_unwritten()  # one last try, if Redis may be tried
        if self._unwritten:
            log.warning("revocations never reached redis", tokens=len(self._unwritten))

    async def _stored(self, jti: str) -> bool:
        return bool(await self._redis.exists(self._prefix + jti))

    async def _store(self, jti: str, expires: int, nonce: str) -> int:
        """Set the revocation's key and publish it; the number of workers that received it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._prefix + jti, b"1", exat=expires)
            pipe.publish(self._channel, f"{jti} {expires} {nonce}".encode())
            _, receivers = await pipe.execute()
        return int(receivers)

    def _write_later(self, jti: str, expires: int) -> None:
        self._unwritten[jti] = expires
        if self._writer is None or self._writer.done():
            writer = self._write_when_back()
            self._writer = asyncio.create_task(writer, name="revocations-unwritten")

    async def _write_when_back(self) -> None:
        """Until Redis takes them: the revocations made while it failed, written and published
        as soon as it may be tried again (this loop also notices Redis is back)."""
        while self._unwritten:
            await asyncio.sleep(max(self._health.retry_in, 0.05))
            await self._write_unwritten()

    async def _write_unwritten(self) -> None:
        written = 0
        for jti, expires in list(self._unwritten.items()):
            if expires > time.time():
                try:
                    await self._health.call(self._store, jti, expires, uuid.uuid4().hex)
                except RedisUnavailable:
                    return
                written += 1
            del self._unwritten[jti]
        if written:
            log.info("revocations made while redis failed are written", tokens=written)

    async def _on_message(self, channel: bytes, data: bytes) -> None:
        if channel == self._ack_channel:
            acks = self._acks.get(data.decode())
            if acks is not None:
                acks.add()
            return
        try:
            jti, expires, nonce = data.decode().split(" ")
            self._mirror.add(jti, float(expires))
        except ValueError:
            log.warning("malformed revocation message", data=data[:200])
            return
        await self._redis.publish(self._ack_channel, nonce)

    async def _load(self) -> None:
        """Subscribed: every revoked key into the mirror, then answer from it."""
        loaded = 0
        start = len(self._prefix.encode())
        async for keys in self._scan_batches():
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.pttl(key)
                ttls = cast("list[int]", await pipe.execute())
            now = time.time()
            for key, ttl in zip(keys, ttls, strict=True):
                if ttl > 0:  # -2: gone since the scan; -1: no expiry (not ours)
                    self._mirror.add(key[start:].decode(), now + ttl / 1000)
                    loaded += 1
        self._mirroring = True
        log.info("revoked tokens mirrored", tokens=loaded)

    async def _scan_batches(self) -> AsyncIterator[list[bytes]]:
        cursor = 0
        pattern = self._prefix.encode() + b"*"
        while True:
            cursor, keys = await self._redis.scan(cursor, match=pattern, count=_SCAN_COUNT)
            if keys:
                yield cast("list[bytes]", keys)  # the client does not decode
            if cursor == 0:
                return

    def _lost(self) -> None:
        self._mirroring = False
