"""The in-process stream log: per-stream event lists fanned out to any number of readers."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

DEFAULT_LIVE_TTL = 24 * 3600.0
DEFAULT_CLOSED_TTL = 300.0
DEFAULT_MAX_CLOSED = 1000
DEFAULT_MAX_CLOSED_BYTES = 64 * 2**20


class LocalStream:
    """One stream's SSE bytes in memory; readers replay from the start and wait for more.

    Events are kept in one growing buffer (no per-event object), and a reader that is behind
    receives everything pending as one chunk: whole events, in order, never split.

    `replayable=False` (a copy is kept elsewhere, e.g. Redis): one reader `claim`s it and what
    it has read is dropped; once that reader is gone nothing more is buffered.
    """

    __slots__ = (
        "buffer",
        "claimed",
        "closed",
        "dropped",
        "on_stop",
        "replayable",
        "stopped",
        "waiters",
    )

    def __init__(self, *, replayable: bool = True) -> None:
        self.buffer = bytearray()
        self.replayable = replayable
        self.claimed = False
        self.dropped = False
        self.closed = False
        self.waiters: list[asyncio.Future[None]] = []
        self.stopped = False
        self.on_stop: Callable[[], None] | None = None  # the producer's, called once

    def request_stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        callback, self.on_stop = self.on_stop, None
        if callback is not None:
            asyncio.get_running_loop().call_soon(callback)

    def watch_stop(self, callback: Callable[[], None]) -> None:
        if self.stopped:
            asyncio.get_running_loop().call_soon(callback)
        else:
            self.on_stop = callback

    def append(self, event: bytes) -> None:
        if self.closed or self.dropped:
            return
        self.buffer += event
        if self.waiters:
            self._wake()

    def claim(self) -> bool:
        """Whether the caller may read it: always when replayable, else only the first."""
        if self.replayable:
            return True
        if self.claimed:
            return False
        self.claimed = True
        return True

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()

    async def iterate(self) -> AsyncIterator[bytes]:
        position = 0
        buffer = self.buffer
        replayable = self.replayable
        try:
            while True:
                if position < len(buffer):
                    if replayable:
                        chunk = bytes(buffer[position:])
                        position += len(chunk)
                    else:
                        chunk = bytes(buffer)
                        buffer.clear()
                    yield chunk
                    continue
                if self.closed:
                    return
                waiter = asyncio.get_running_loop().create_future()
                self.waiters.append(waiter)
                await waiter
        finally:
            if not replayable:  # its one reader is gone
                self.dropped = True
                buffer.clear()


class MemoryStreamLog:
    """Stream logs kept in this process (no Redis). Closed logs stay readable for
    `closed_ttl` seconds, at most `max_closed` of them holding at most `max_closed_bytes` in
    all (the oldest go first; the one closed last always stays, for a reader about to
    attach); a log never closed expires after `live_ttl`."""

    def __init__(
        self,
        *,
        live_ttl: float = DEFAULT_LIVE_TTL,
        closed_ttl: float = DEFAULT_CLOSED_TTL,
        max_closed: int = DEFAULT_MAX_CLOSED,
        max_closed_bytes: int = DEFAULT_MAX_CLOSED_BYTES,
    ) -> None:
        self._live_ttl = live_ttl
        self._closed_ttl = closed_ttl
        self._max_closed = max_closed
        self._max_closed_bytes = max_closed_bytes
        self._streams: dict[str, LocalStream] = {}
        self._closed: OrderedDict[str, int] = OrderedDict()  # stream id -> its bytes
        self._closed_bytes = 0
        self._active: dict[str, str] = {}  # chat id -> live stream id
        self._chats: dict[str, str] = {}  # live stream id -> chat id
        self._timers: dict[str, asyncio.TimerHandle] = {}

    async def start(self) -> None:
        return None

    async def open(self, stream_id: str, chat_id: str, meta: bytes = b"") -> None:
        """(`meta` is not kept: a process that dies takes its logs along.)"""
        self._forget(stream_id)
        self._streams[stream_id] = LocalStream()
        self._active[chat_id] = stream_id
        self._chats[stream_id] = chat_id
        self._schedule(stream_id, self._live_ttl, self._expire_live)

    def has(self, stream_id: str) -> bool:
        return stream_id in self._streams

    def append(self, stream_id: str, event: bytes) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.append(event)

    async def close(self, stream_id: str) -> None:
        self._finish(stream_id)

    def _finish(self, stream_id: str) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or stream.closed:
            return
        stream.close()
        chat_id = self._chats.pop(stream_id, None)
        if chat_id is not None and self._active.get(chat_id) == stream_id:
            del self._active[chat_id]
        size = len(stream.buffer)
        self._closed[stream_id] = size
        self._closed_bytes += size
        self._schedule(stream_id, self._closed_ttl, self._forget)
        while len(self._closed) > 1 and (
            len(self._closed) > self._max_closed or self._closed_bytes > self._max_closed_bytes
        ):
            self._forget(next(iter(self._closed)))

    async def read(self, stream_id: str) -> AsyncIterator[bytes]:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        async for event in stream.iterate():
            yield event

    async def active_stream(self, chat_id: str) -> str | None:
        return self._active.get(chat_id)

    async def request_stop(self, stream_id: str) -> bool:
        stream = self._streams.get(stream_id)
        if stream is None or stream.closed:
            return False
        stream.request_stop()
        return True

    def on_stop(self, stream_id: str, callback: Callable[[], None]) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and not stream.closed:
            stream.watch_stop(callback)

    async def aclose(self) -> None:
        for stream_id in list(self._streams):
            self._finish(stream_id)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._streams.clear()
        self._closed.clear()
        self._closed_bytes = 0

    # --- internals --------------------------------------------------------------------
    def _schedule(self, stream_id: str, delay: float, action: Callable[[str], None]) -> None:
        previous = self._timers.pop(stream_id, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._timers[stream_id] = loop.call_later(delay, action, stream_id)

    def _expire_live(self, stream_id: str) -> None:
        self._timers.pop(stream_id, None)
        self._finish(stream_id)

    def _forget(self, stream_id: str) -> None:
        timer = self._timers.pop(stream_id, None)
        if timer is not None:
            timer.cancel()
        self._closed_bytes -= self._closed.pop(stream_id, 0)
        stream = self._streams.pop(stream_id, None)
        if stream is not None and not stream.closed:
            stream.close()
        chat_id = self._chats.pop(stream_id, None)
        if chat_id is not None and self._active.get(chat_id) == stream_id:
            del self._active[chat_id]
