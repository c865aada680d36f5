"""The Redis stream log: events in Redis Streams (batched writes, expiry), resumable and
stoppable from any worker, ended by another worker when its producer's worker dies; the turn's
own response is served from memory, and while Redis fails new logs stay in this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import structlog
from redis.asyncio import Redis

from chatbot_api.core.redis import (
    REDIS_ERRORS,
    SUBSCRIBE_TIMEOUT,
    RedisHealth,
    RedisUnavailable,
    listen,
    stop_task,
)
from chatbot_api.streaming.log import Recovery
from chatbot_api.streaming.memory import (
    DEFAULT_CLOSED_TTL,
    DEFAULT_LIVE_TTL,
    LocalStream,
    MemoryStreamLog,
)
from chatbot_api.streaming.redis_scripts import SCRIPTS
from chatbot_api.streaming.replay import cut_short_ending, replay

log = structlog.get_logger(__name__)

EVENT = b"e"  # field of an entry holding SSE events
OPEN = b"open"  # field of the first entry: the log's meta (and CHAT, its chat id)
CHAT = b"chat"
DONE = b"done"  # field of the final entry
READ_PAGE = 500
MAX_BLOCK_MS = 2000
# Every TICK_SECONDS a worker refreshes the heartbeat of each log it produces (a score in one
# sorted set, from Redis's clock) and claims logs whose heartbeat is LAPSE_MS old: their
# worker died (or stalled that long), and the claimer ends them (`Recovery`). A claim is a
# lease: should the claimer die too, another worker claims the log again after LEASE_MS.
TICK_SECONDS = 0.25
LAPSE_MS = 1250
LEASE_MS = 10_000
CLAIM_BATCH = 20
LOST = "The connection to this reply was lost. Reload the chat to see it once it is done."
INTERRUPTED = "The reply was interrupted. Please try again."

Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class _Open:
    stream_id: str
    chat_id: str
    meta: bytes


class RedisStreamLog:
    """Stream logs in Redis Streams under `prefix`.

    `open` and `append` never wait: the events go to the local fan-out at once and to a
    buffer that one background task writes every `flush_ms` (a new log is created with its
    first write). Stops travel on one pub/sub channel per prefix, with a key the heartbeat
    polls as a backstop. Every worker ends (`recover`) the logs of workers that died.

    While Redis fails, new logs are kept in this process (`fallback`: they are resumable
    here only); a log whose write failed is written no more, and its copy in Redis is
    dropped once Redis answers again (its own client still gets every event)."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        flush_ms: float = 5.0,
        live_ttl: float = DEFAULT_LIVE_TTL,
        closed_ttl: float = DEFAULT_CLOSED_TTL,
        recover: Recovery | None = None,
        fallback: MemoryStreamLog | None = None,
        health: RedisHealth | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._flush_seconds = flush_ms / 1000
        self._live_ttl = max(1, int(live_ttl))
        self._closed_ttl = max(1, int(closed_ttl))
        self._recover = recover
        self._fallback = fallback or MemoryStreamLog(live_ttl=live_ttl, closed_ttl=closed_ttl)
        self._channel = f"{prefix}stream-stop"
        self._live_set = f"{prefix}live-streams"
        # A blocking XREAD must return before the client's socket timeout fires.
        kwargs = redis.connection_pool.connection_kwargs
        socket_timeout = kwargs.get("socket_timeout") or kwargs.get("orig_socket_timeout")
        self._block_ms = MAX_BLOCK_MS
        if socket_timeout:
            self._block_ms = max(100, min(MAX_BLOCK_MS, int(socket_timeout * 500)))
        self._local: dict[str, LocalStream] = {}  # produced here, kept in Redis
        self._chats: dict[str, str] = {}  # their chats
        self._opens: list[_Open] = []  # to create with the next write
        self._pending: list[tuple[str, bytes]] = []
        self._abandoned: set[str] = set()  # produced here, no longer written to Redis
        self._to_drop: dict[str, str] = {}  # their copies in Redis to drop: stream -> chat
        self._health = health or RedisHealth()
        self._has_pending = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._scripts = {  # EVALSHA, EVAL if unknown
            name: redis.register_script(source) for name, source in SCRIPTS.items()
        }

    # --- keys -------------------------------------------------------------------------
    def _stream_key(self, stream_id: str) -> str:
        return f"{self._prefix}stream:{stream_id}"

    def _stop_key(self, stream_id: str) -> str:
        return f"{self._prefix}stream:{stream_id}:stop"

    def _ended_key(self, stream_id: str) -> str:
        return f"{self._prefix}stream:{stream_id}:ended"

    def _active_key(self, chat_id: str) -> str:
        return f"{self._prefix}chat:{chat_id}:active-stream"

    def _stream_keys(self, stream_id: str, chat_id: str) -> list[str]:
        """stream, stop, ended, live set, active: the keys of OPEN_STREAM and END_STREAM."""
        return [
            self._stream_key(stream_id),
            self._stop_key(stream_id),
            self._ended_key(stream_id),
            self._live_set,
            self._active_key(chat_id),
        ]

    # --- producer ---------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        listener = listen(
            self._redis,
            [self._channel],
            self._stop_message,
            on_ready=self._on_subscribed,
            name="stream-log-stop",
        )
        self._tasks = [
            asyncio.create_task(self._flush_forever(), name="stream-log-flush"),
            asyncio.create_task(listener, name="stream-log-stop"),
            asyncio.create_task(self._tick_forever(), name="stream-log-heartbeat"),
        ]
        with contextlib.suppress(TimeoutError):  # else stops arrive by the key poll
            await asyncio.wait_for(self._subscribed.wait(), SUBSCRIBE_TIMEOUT)

    async def open(self, stream_id: str, chat_id: str, meta: bytes) -> None:
        if not self._health.up:
            await self._fallback.open(stream_id, chat_id, meta)
            return
        # The local copy only feeds the first reader here (the turn's own response); anyone
        # else reads the Redis copy, so what was sent is not kept twice.
        self._local[stream_id] = LocalStream(replayable=False)
        self._chats[stream_id] = chat_id
        self._opens.append(_Open(stream_id, chat_id, meta))
        self._has_pending.set()

    def append(self, stream_id: str, event: bytes) -> None:
        local = self._local.get(stream_id)
        if local is None:
            self._fallback.append(stream_id, event)
            return
        if local.closed:
            return
        local.append(event)
        if stream_id not in self._abandoned:
            self._pending.append((stream_id, event))
            self._has_pending.set()

    async def close(self, stream_id: str) -> None:
        local = self._local.get(stream_id)
        if local is None:
            await self._fallback.close(stream_id)
            return
        local.close()
        chat_id = self._chats.pop(stream_id, "")
        try:
            if stream_id in self._abandoned:
                return
            async with self._write_lock:
                opens, batch = self._take_pending()
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        await self._write_in(pipe, opens, batch)
                        await self._scripts["end"](
                            keys=self._stream_keys(stream_id, chat_id),
                            args=[stream_id, self._closed_ttl, b"", "turn"],
                            client=pipe,
                        )
                        await pipe.execute()
                except REDIS_ERRORS as exc:
                    self._write_failed(opens, batch, exc, also=stream_id)
        finally:
            del self._local[stream_id]
            self._abandoned.discard(stream_id)

    def _take_pending(self) -> tuple[list[_Open], list[tuple[str, bytes]]]:
        opens, self._opens = self._opens, []
        batch, self._pending = self._pending, []
        return opens, batch

    async def _write_in(
        self, pipe: Any, opens: list[_Open], batch: list[tuple[str, bytes]]
    ) -> None:
        for new in opens:
            await self._scripts["open"](
                keys=self._stream_keys(new.stream_id, new.chat_id),
                args=[self._live_ttl, new.stream_id, new.meta, new.chat_id],
                client=pipe,
            )
        if batch:
            # One entry per stream holding its events back to back (readers want the SSE
            # byte stream): at 50 tokens/s a stream rarely has two events in one flush.
            grouped: dict[str, list[bytes]] = {}
            for stream_id, event in batch:
                grouped.setdefault(stream_id, []).append(event)
            keys = [self._stream_key(stream_id) for stream_id in grouped]
            events = [b"".join(parts) for parts in grouped.values()]
            await self._scripts["append"](keys=keys, args=events, client=pipe)

    def _write_failed(
        self,
        opens: list[_Open],
        batch: list[tuple[str, bytes]],
        exc: BaseException,
        also: str | None = None,
    ) -> None:
        """The streams of a failed write are written no more (their Redis copy would have a
        gap); their copies are dropped once Redis answers."""
        self._health.failed(exc)
        lost = {new.stream_id for new in opens} | {stream_id for stream_id, _ in batch}
        if also is not None:
            lost.add(also)
        self._abandoned |= lost & set(self._local)
        chats = {new.stream_id: new.chat_id for new in opens}
        for stream_id in lost:
            self._to_drop[stream_id] = self._chats.get(stream_id) or chats.get(stream_id, "")
        self._pending = [(sid, event) for sid, event in self._pending if sid not in lost]
        self._opens = [new for new in self._opens if new.stream_id not in lost]

    async def _flush_forever(self) -> None:
        while True:
            await self._has_pending.wait()
            await asyncio.sleep(self._flush_seconds)
            async with self._write_lock:
                self._has_pending.clear()
                opens, batch = self._take_pending()
                if not opens and not batch:
                    continue
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        await self._write_in(pipe, opens, batch)
                        await pipe.execute()
                except REDIS_ERRORS as exc:
                    self._write_failed(opens, batch, exc)

    # --- heartbeats and recovery ---------------------------------------------------------
    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self._tick()
            except REDIS_ERRORS as exc:
                self._health.failed(exc)

    async def _tick(self) -> None:
        """One round trip: drop abandoned copies, heartbeats, and claim lapsed logs; then
        end the logs claimed."""
        created = {new.stream_id for new in self._opens}
        live = [
            sid
            for sid, local in self._local.items()
            if not local.closed and sid not in self._abandoned and sid not in created
        ]
        dropping = dict(self._to_drop)
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid, chat_id in dropping.items():
                keys = [self._stream_key(sid), self._live_set, self._active_key(chat_id)]
                await self._scripts["drop"](keys=keys, args=[sid], client=pipe)
            heartbeat_keys = [self._live_set]
            for sid in live:
                heartbeat_keys += [self._ended_key(sid), self._stop_key(sid)]
            await self._scripts["heartbeat"](keys=heartbeat_keys, args=live, client=pipe)
            if self._recover is not None:
                args = [LAPSE_MS, LEASE_MS, CLAIM_BATCH]
                await self._scripts["claim"](keys=[self._live_set], args=args, client=pipe)
            replies = await pipe.execute()
        self._health.succeeded()
        for sid in dropping:
            self._to_drop.pop(sid, None)
        for flag in cast("list[bytes]", replies[len(dropping)]):
            what, _, sid = flag.decode().partition(":")
            local = self._local.get(sid)
            if local is not None and not local.closed:
                if what == "ended":  # another worker took it for dead and ended it
                    self._abandoned.add(sid)
                local.request_stop()
        if self._recover is not None:
            for raw in cast("list[bytes]", replies[-1]):
                await self._end_dead(raw.decode())

    async def _end_dead(self, stream_id: str) -> None:
        """End a log whose producer's worker died: fence it off (the producer, should it be
        alive after all, writes no more), then append the ending `recover` gives."""
        key = self._stream_key(stream_id)
        await self._redis.set(self._ended_key(stream_id), b"1", ex=self._closed_ttl)
        entries = cast(Entries, await self._redis.xrange(key))
        chat_id = ""
        ending = b""
        if entries and OPEN in entries[0][1] and not any(DONE in f for _, f in entries):
            meta = entries[0][1][OPEN]
            events = b"".join(fields[EVENT] for _, fields in entries if EVENT in fields)
            chat_id = entries[0][1].get(CHAT, b"").decode()
            try:
                assert self._recover is not None
                ending = await self._recover(stream_id, meta, events)
            except Exception:
                log.exception(
                    "recovering a turn failed; it ends with a plain error", stream_id=stream_id
                )
                ending = cut_short_ending(replay(events), INTERRUPTED)
        await self._scripts["end"](
            keys=self._stream_keys(stream_id, chat_id),
            args=[stream_id, self._closed_ttl, ending, "recovery"],
        )
        if not ending:  # already done, or gone: only its heartbeat entry was left
            await self._redis.zrem(self._live_set, stream_id)

    # --- readers ----------------------------------------------------------------------
    async def read(self, stream_id: str) -> AsyncIterator[bytes]:
        local = self._local.get(stream_id)
        if local is not None and local.claim():
            async for event in local.iterate():
                yield event
            return
        if self._fallback.has(stream_id):
            async for event in self._fallback.read(stream_id):
                yield event
            return
        seen: list[bytes] = []
        try:
            async for event in self._read_remote(stream_id):
                seen.append(event)
                yield event
        except REDIS_ERRORS as exc:
            self._health.failed(exc)
            if seen:  # what the reader has is a stream cut short: end it, balanced
                yield cut_short_ending(replay(b"".join(seen)), LOST)

    async def _read_remote(self, stream_id: str) -> AsyncIterator[bytes]:
        key = self._stream_key(stream_id)
        last = b"-"
        while True:  # the backlog, page by page
            start = last if last == b"-" else b"(" + last
            entries = cast(Entries, await self._redis.xrange(key, min=start, count=READ_PAGE))
            for entry_id, fields in entries:
                last = entry_id
                if DONE in fields:
                    return
                if EVENT in fields:
                    yield fields[EVENT]
            if len(entries) < READ_PAGE:
                break
        if last == b"-":
            return  # unknown or expired
        while True:  # then live entries as they arrive (a dead producer's log is ended)
            response = cast(
                "list[tuple[bytes, Entries]]",
                await self._redis.xread({key: last}, count=READ_PAGE, block=self._block_ms),
            )
            if not response:
                if not await self._redis.exists(key):
                    return  # expired
                continue
            for entry_id, fields in response[0][1]:
                last = entry_id
                if DONE in fields:
                    return
                if EVENT in fields:
                    yield fields[EVENT]

    async def active_stream(self, chat_id: str) -> str | None:
        local = await self._fallback.active_stream(chat_id)
        if local is not None:
            return local
        try:
            value = cast(
                "bytes | None", await self._health.call(self._redis.get, self._active_key(chat_id))
            )
        except RedisUnavailable:
            return None
        return None if value is None else value.decode()

    # --- stop -------------------------------------------------------------------------
    async def request_stop(self, stream_id: str) -> bool:
        local = self._local.get(stream_id)
        if local is not None:
            if local.closed:
                return False
            local.request_stop()
            return True
        if self._fallback.has(stream_id):
            return await self._fallback.request_stop(stream_id)
        try:
            return await self._health.call(self._remote_stop, stream_id)
        except RedisUnavailable:
            return False

    async def _remote_stop(self, stream_id: str) -> bool:
        if await self._redis.zscore(self._live_set, stream_id) is None:
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._stop_key(stream_id), b"1", ex=self._live_ttl)
            pipe.publish(self._channel, stream_id)
            await pipe.execute()
        return True

    def on_stop(self, stream_id: str, callback: Callable[[], None]) -> None:
        """Stops arrive by pub/sub; the heartbeat also polls the stop keys (the backstop)."""
        local = self._local.get(stream_id)
        if local is None:
            self._fallback.on_stop(stream_id, callback)
        elif not local.closed:
            local.watch_stop(callback)

    async def _stop_message(self, _channel: bytes, data: bytes) -> None:
        local = self._local.get(data.decode())
        if local is not None:
            local.request_stop()

    async def _on_subscribed(self) -> None:
        self._subscribed.set()

    async def aclose(self) -> None:
        for stream_id in list(self._local):
            with contextlib.suppress(*REDIS_ERRORS):
                await self.close(stream_id)
        for task in self._tasks:
            await stop_task(task)
        self._tasks = []
        await self._fallback.aclose()
