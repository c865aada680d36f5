"""A tiny scripted HTTP/1.1 server on 127.0.0.1, run in a background thread.

Usable from sync and async tests (`with FakeHTTPServer() as server:` or `async with`), and
from benchmarks: replies are pre-encoded byte chunks sent as HTTP chunks, at full speed or
paced, optionally dropping the connection or stalling part-way. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson

DRAIN_EVERY = 64  # at full speed, flush the socket every N chunks


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def chunked(self) -> bool:
        """The body came in HTTP chunks (no Content-Length)."""
        return self.headers.get("transfer-encoding", "").lower() == "chunked"

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Reply:
    """One scripted response. `chunks` are sent one HTTP chunk each (chunked encoding)."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    content_type: str = "text/event-stream"
    delay: float = 0.0  # seconds between chunks (pacing)
    first_delay: float = 0.0  # seconds before the first chunk (time to first token)
    drop_after: int | None = None  # close the connection after this many chunks
    stall_after: int | None = None  # go silent after this many chunks …
    stall_seconds: float = 3600.0  # … for this long (or until the client leaves)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers


Handler = Callable[[RecordedRequest], Reply]


class FakeHTTPServer:
    """Serves queued replies in order, then `default(request)`."""

    def __init__(self, default: Handler | Reply | None = None) -> None:
        self.requests: list[RecordedRequest] = []  # whole requests
        self.heads = 0  # request heads received (a request's body may follow later)
        self.disconnects = 0  # responses the client abandoned before their end
        self.port = 0
        self._default = default
        self._queue: deque[Reply] = deque()
        self._disconnected = threading.Event()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="fake-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- scripting ------------------------------------------------------------------------
    def queue(self, *replies: Reply) -> None:
        """Serve these replies to the next requests, in order."""
        self._queue.extend(replies)

    def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        """True once a client has abandoned a response (sync; poll it from async tests)."""
        return self._disconnected.wait(timeout)

    def head_received(self) -> None:
        self.heads += 1

    def reply_for(self, request: RecordedRequest) -> Reply:
        if self._queue:
            return self._queue.popleft()
        if isinstance(self._default, Reply):
            return self._default
        if self._default is not None:
            return self._default(request)
        return Reply(
            status=404, chunks=[b'{"error": "no reply scripted"}'], content_type="application/json"
        )

    # --- server ---------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader, self.head_received)
            if request is None:
                return
            self.requests.append(request)
            await self._send(self.reply_for(request), reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self._client_left()
        finally:
            writer.close()

    def _client_left(self) -> None:
        self.disconnects += 1
        self._disconnected.set()

    async def _send(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
        head = (
            f"HTTP/1.1 {reply.status} Fake\r\ncontent-type: {reply.content_type}\r\n{extra}"
            "transfer-encoding: chunked\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        if reply.first_delay:
            await asyncio.sleep(reply.first_delay)
        for index, chunk in enumerate(reply.chunks):
            if index == reply.drop_after:
                return  # close without the terminating chunk: an incomplete body
            if index == reply.stall_after and not await self._stall(reader, reply.stall_seconds):
                return
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if reply.delay:
                await writer.drain()
                await asyncio.sleep(reply.delay)
            elif index % DRAIN_EVERY == 0:
                await writer.drain()
        if reply.drop_after is not None and reply.drop_after >= len(reply.chunks):
            return
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _stall(self, reader: asyncio.StreamReader, seconds: float) -> bool:
        """Send nothing for `seconds`; False (and a recorded disconnect) if the client left."""
        try:
            data = await asyncio.wait_for(reader.read(1), seconds)
        except TimeoutError:
            return True
        if not data:
            self._client_left()
            return False
        return True


async def _read_request(
    reader: asyncio.StreamReader, on_head: Callable[[], None] | None = None
) -> RecordedRequest | None:
    """One request: its head (then `on_head()`), then its body by Content-Length or chunked."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    if on_head is not None:
        on_head()
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
    return RecordedRequest(method, path, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers: the empty line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def json_reply(status: int, body: Any) -> Reply:
    """A non-streamed JSON (or text) response, e.g. an upstream error."""
    raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
    return Reply(status=status, chunks=[raw], content_type="application/json")
