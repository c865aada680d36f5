"""The Redis stream log: events in Redis Streams (batched writes, expiry), resumable and
stoppable from any worker; the turn's own response is served from memory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from chatbot_api.core.redis import SUBSCRIBE_TIMEOUT, listen, stop_task
from chatbot_api.streaming.memory import DEFAULT_CLOSED_TTL, DEFAULT_LIVE_TTL, LocalStream

log = structlog.get_logger(__name__)

EVENT = b"e"  # field of an SSE event entry
DONE = b"done"  # field of the final entry
READ_PAGE = 500
MAX_BLOCK_MS = 2000
STOP_POLL_SECONDS = 5.0
# The producing worker refreshes a stream's live key (and the chat's active-stream key) every
# HEARTBEAT_SECONDS; they expire after LIVENESS_TTL, so a worker that dies mid-turn stops
# looking live within seconds and readers on other workers end instead of waiting for expiry.
HEARTBEAT_SECONDS = 5.0
LIVENESS_TTL = 20
# A new stream in one command (a pipeline of five cost ~1 ms of client CPU and waiting): fresh
# stream with its first entry (`open`, so it exists before any event) and expiry, no stale stop,
# live key, and (when given) the chat's active stream.
# KEYS: stream, stop, live[, active]. ARGV: stream ttl, liveness ttl[, stream id].
OPEN_STREAM = """
redis.call('del', KEYS[1], KEYS[2])
redis.call('xadd', KEYS[1], '*', 'open', '1')
redis.call('expire', KEYS[1], ARGV[1])
redis.call('set', KEYS[3], '1', 'EX', ARGV[2])
if KEYS[4] then
    redis.call('set', KEYS[4], ARGV[3], 'EX', ARGV[2])
end
return 1
"""
# Every stream's pending events in one command (one XADD each, entry field `e` = EVENT):
# at 50 tokens/s a stream rarely has two events in one flush, so per-stream commands would
# cost about one redis-py command per token. KEYS: streams. ARGV: their events, same order.
APPEND_BATCH = """
for i = 1, #KEYS do
    redis.call('xadd', KEYS[i], '*', 'e', ARGV[i])
end
return #KEYS
"""
# Delete the chat's active-stream key only if it still names this stream.
CLEAR_ACTIVE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class _Open:
    """A log to create in Redis (OPEN_STREAM's keys and arguments)."""

    stream_id: str
    keys: list[str]
    args: list[str | int]


class RedisStreamLog:
    """Stream logs in Redis Streams under `prefix`.

    `append` never waits: the event goes to the local fan-out at once and to a buffer that
    one background task writes every `flush_ms` in a single pipeline. Stops travel on one
    pub/sub channel per prefix, with a key as a backstop.

    A log opened without its chat (a turn still being admitted) is created in Redis with that
    next write too, ahead of its events: nothing on the way to the first token waits for
    Redis. Should that write fail, the log stays local (its own response gets every event;
    no other worker can resume it) instead of leaving a partial copy in Redis.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        flush_ms: float = 5.0,
        live_ttl: float = DEFAULT_LIVE_TTL,
        closed_ttl: float = DEFAULT_CLOSED_TTL,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._flush_seconds = flush_ms / 1000
        self._live_ttl = max(1, int(live_ttl))
        self._closed_ttl = max(1, int(closed_ttl))
        self._channel = f"{prefix}stream-stop"
        # A blocking XREAD must return before the client's socket timeout fires.
        kwargs = redis.connection_pool.connection_kwargs
        socket_timeout = kwargs.get("socket_timeout") or kwargs.get("orig_socket_timeout")
        self._block_ms = MAX_BLOCK_MS
        if socket_timeout:
            self._block_ms = max(100, min(MAX_BLOCK_MS, int(socket_timeout * 500)))
        self._local: dict[str, LocalStream] = {}
        self._chats: dict[str, str] = {}
        self._pending: list[tuple[str, bytes]] = []
        self._opens: list[_Open] = []  # logs to create in Redis with the next write
        self._local_only: set[str] = set()  # logs whose creation in Redis failed
        self._activations: list[tuple[str, str]] = []  # (chat id, stream id) to write
        self._has_pending = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._open_stream = redis.register_script(OPEN_STREAM)  # EVALSHA, EVAL if unknown
        self._append_batch = redis.register_script(APPEND_BATCH)

    # --- keys -------------------------------------------------------------------------
    def _stream_key(self, stream_id: str) -> str:
        return f"{self._prefix}stream:{stream_id}"

    def _live_key(self, stream_id: str) -> str:
        return f"{self._prefix}stream:{stream_id}:live"

    def _stop_key(self, stream_id: str) -> str:
        return f"{self._prefix}stream:{stream_id}:stop"

    def _active_key(self, chat_id: str) -> str:
        return f"{self._prefix}chat:{chat_id}:active-stream"

    # --- producer ---------------------------------------------------------------------
    async def open(self, stream_id: str, chat_id: str | None) -> None:
        await self._start_background()
        # The local copy only feeds the first reader here (the turn's own response); anyone
        # else reads the Redis copy, so what was sent is not kept twice.
        self._local[stream_id] = LocalStream(replayable=False)
        keys = [self._stream_key(stream_id), self._stop_key(stream_id), self._live_key(stream_id)]
        args: list[str | int] = [self._live_ttl, LIVENESS_TTL]
        if chat_id is None:
            self._opens.append(_Open(stream_id, keys, args))
            self._has_pending.set()
            return
        self._chats[stream_id] = chat_id
        keys.append(self._active_key(chat_id))
        args.append(stream_id)
        await self._open_stream(keys=keys, args=args)

    def activate(self, stream_id: str, chat_id: str) -> None:
        """The chat's active-stream key is written with the next batch of events (≤ flush_ms
        later), before anything that closes the stream."""
        local = self._local.get(stream_id)
        if local is None or local.closed or stream_id in self._chats:
            return
        if stream_id in self._local_only:
            return
        self._chats[stream_id] = chat_id
        self._activations.append((chat_id, stream_id))
        self._has_pending.set()

    async def discard(self, stream_id: str) -> None:
        local = self._local.pop(stream_id, None)
        if local is None:
            return
        local.close()
        self._chats.pop(stream_id, None)
        self._pending = [(sid, event) for sid, event in self._pending if sid != stream_id]
        self._opens = [o for o in self._opens if o.stream_id != stream_id]
        self._local_only.discard(stream_id)
        try:
            await self._redis.delete(
                self._stream_key(stream_id), self._live_key(stream_id), self._stop_key(stream_id)
            )
        except (RedisError, OSError):
            log.exception("stream_log_discard_failed", stream_id=stream_id)

    def append(self, stream_id: str, event: bytes) -> None:
        local = self._local.get(stream_id)
        if local is None or local.closed:
            return
        local.append(event)
        if stream_id not in self._local_only:
            self._pending.append((stream_id, event))
            self._has_pending.set()

    async def close(self, stream_id: str) -> None:
        local = self._local.get(stream_id)
        if local is None or local.closed:
            return
        local.close()
        chat_id = self._chats.pop(stream_id, "")
        key = self._stream_key(stream_id)
        try:
            async with self._write_lock:
                if stream_id in self._local_only:
                    return
                opens, batch, activations = self._take_pending()
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        await self._write_in(pipe, opens, batch, activations)
                        pipe.xadd(key, {DONE: b"1"})
                        pipe.expire(key, self._closed_ttl)
                        pipe.delete(self._live_key(stream_id), self._stop_key(stream_id))
                        pipe.eval(CLEAR_ACTIVE, 1, self._active_key(chat_id), stream_id)
                        await pipe.execute()
                except BaseException:
                    self._opens_failed(opens)
                    raise
        except (RedisError, OSError):
            log.exception("stream_log_close_failed", stream_id=stream_id)
        finally:
            self._local.pop(stream_id, None)
            self._local_only.discard(stream_id)

    def _batch_args(self, batch: list[tuple[str, bytes]]) -> tuple[list[str], list[bytes]]:
        """(stream keys, their entries): one entry per stream holding its events back to back
        (readers want the SSE byte stream). Expiry was set at open and is left alone."""
        grouped: dict[str, list[bytes]] = {}
        for stream_id, event in batch:
            grouped.setdefault(stream_id, []).append(event)
        keys = [self._stream_key(stream_id) for stream_id in grouped]
        return keys, [b"".join(events) for events in grouped.values()]

    def _take_pending(self) -> tuple[list[_Open], list[tuple[str, bytes]], list[tuple[str, str]]]:
        """What the next write carries: new logs, then activations, then events."""
        opens, self._opens = self._opens, []
        batch, self._pending = self._pending, []
        activations, self._activations = self._activations, []
        return opens, batch, activations

    async def _write_in(
        self,
        pipe: Pipeline,
        opens: list[_Open],
        batch: list[tuple[str, bytes]],
        activations: list[tuple[str, str]],
    ) -> None:
        for new in opens:
            await self._open_stream(keys=new.keys, args=new.args, client=pipe)
        for chat_id, stream_id in activations:
            pipe.set(self._active_key(chat_id), stream_id, ex=LIVENESS_TTL)
        if batch:
            await self._append_batch(*self._batch_args(batch), client=pipe)

    def _opens_failed(self, opens: list[_Open]) -> None:
        """Logs that could not be created in Redis stay local: nothing more of them is
        written there, and they never become a chat's active stream."""
        for new in opens:
            if new.stream_id in self._local:
                self._local_only.add(new.stream_id)
                self._chats.pop(new.stream_id, None)
        failed = {new.stream_id for new in opens}
        self._pending = [(sid, event) for sid, event in self._pending if sid not in failed]
        self._activations = [(c, sid) for c, sid in self._activations if sid not in failed]

    async def _flush_forever(self) -> None:
        while True:
            await self._has_pending.wait()
            await asyncio.sleep(self._flush_seconds)
            async with self._write_lock:
                self._has_pending.clear()
                opens, batch, activations = self._take_pending()
                try:
                    if opens or activations:
                        async with self._redis.pipeline(transaction=False) as pipe:
                            await self._write_in(pipe, opens, batch, activations)
                            await pipe.execute()
                    elif batch:
                        await self._append_batch(*self._batch_args(batch))
                except (RedisError, OSError):
                    self._opens_failed(opens)
                    log.exception(
                        "stream_log_flush_failed",
                        opens=len(opens),
                        events=len(batch),
                        activations=len(activations),
                    )

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            live = [  # (a stream not yet activated has a turn not yet admitted: a moment)
                (sid, chat_id)
                for sid, s in self._local.items()
                if not s.closed and (chat_id := self._chats.get(sid)) is not None
            ]
            if not live:
                continue
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for stream_id, chat_id in live:
                        pipe.expire(self._live_key(stream_id), LIVENESS_TTL)
                        pipe.expire(self._active_key(chat_id), LIVENESS_TTL)
                        pipe.exists(self._stop_key(stream_id))
                    replies = await pipe.execute()
            except (RedisError, OSError):
                log.exception("stream_log_heartbeat_failed", streams=len(live))
                continue
            # A stop whose pub/sub message was missed (a reconnect) is seen here.
            for (stream_id, _chat_id), stop in zip(live, replies[2::3], strict=True):
                local = self._local.get(stream_id)
                if stop and local is not None and not local.closed:
                    local.request_stop()

    # --- readers ----------------------------------------------------------------------
    async def read(self, stream_id: str) -> AsyncIterator[bytes]:
        local = self._local.get(stream_id)
        if local is not None and local.claim():
            async for event in local.iterate():
                yield event
            return
        async for event in self._read_remote(stream_id):
            yield event

    async def _read_remote(self, stream_id: str) -> AsyncIterator[bytes]:
        key = self._stream_key(stream_id)
        last = b"-"
        while True:  # the backlog, page by page (also the final drain of a dead producer)
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
        while True:  # then live entries as they arrive
            response = cast(
                "list[tuple[bytes, Entries]]",
                await self._redis.xread({key: last}, count=READ_PAGE, block=self._block_ms),
            )
            if not response:
                if not await self._redis.exists(key):
                    return  # expired
                if not await self._redis.exists(self._live_key(stream_id)):
                    # Closed (DONE is already written) or its producer died: drain what is
                    # left and end rather than wait for the key to expire.
                    tail = cast(Entries, await self._redis.xrange(key, min=b"(" + last))
                    for _entry_id, fields in tail:
                        if DONE in fields:
                            return
                        if EVENT in fields:
                            yield fields[EVENT]
                    return
                continue
            for entry_id, fields in response[0][1]:
                last = entry_id
                if DONE in fields:
                    return
                if EVENT in fields:
                    yield fields[EVENT]

    async def active_stream(self, chat_id: str) -> str | None:
        value = cast("bytes | None", await self._redis.get(self._active_key(chat_id)))
        return None if value is None else value.decode()

    # --- stop -------------------------------------------------------------------------
    async def request_stop(self, stream_id: str) -> bool:
        local = self._local.get(stream_id)
        if local is not None:
            if local.closed:
                return False
            local.request_stop()
            return True
        if not await self._redis.exists(self._live_key(stream_id)):
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._stop_key(stream_id), b"1", ex=self._live_ttl)
            pipe.publish(self._channel, stream_id)
            await pipe.execute()
        return True

    async def stop_requested(self, stream_id: str) -> AsyncIterator[None]:
        local = self._local.get(stream_id)
        if local is None:
            return
        stop_key = self._stop_key(stream_id)
        while not local.stopped and not local.closed:
            if await self._redis.exists(stop_key):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(local.wait_stop(), STOP_POLL_SECONDS)
        if not local.closed:
            yield None

    def on_stop(self, stream_id: str, callback: Callable[[], None]) -> None:
        """Stops arrive by pub/sub; the heartbeat also polls the stop keys (the backstop)."""
        local = self._local.get(stream_id)
        if local is not None and not local.closed:
            local.watch_stop(callback)

    async def _stop_message(self, _channel: bytes, data: bytes) -> None:
        local = self._local.get(data.decode())
        if local is not None:
            local.request_stop()

    async def _on_subscribed(self) -> None:
        self._subscribed.set()

    async def _start_background(self) -> None:
        if self._subscribed.is_set() and self._heartbeat is not None:
            return  # started (the common case: no task made for the wait below)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever(), name="stream-log-flush")
        if self._listener is None:
            listener = listen(
                self._redis,
                [self._channel],
                self._stop_message,
                on_ready=self._on_subscribed,
                name="stream-log-stop",
            )
            self._listener = asyncio.create_task(listener, name="stream-log-stop")
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(
                self._heartbeat_forever(), name="stream-log-heartbeat"
            )
        with contextlib.suppress(TimeoutError):  # else stops arrive by the key poll
            await asyncio.wait_for(self._subscribed.wait(), SUBSCRIBE_TIMEOUT)

    async def aclose(self) -> None:
        for stream_id in list(self._local):
            with contextlib.suppress(RedisError, OSError):
                await self.close(stream_id)
        for task in (self._flusher, self._listener, self._heartbeat):
            await stop_task(task)
        self._flusher = self._listener = self._heartbeat = None
