"""The load generator's HTTP/1.1 client: raw asyncio sockets (uvloop), as little work per byte
as possible. It parses response framing (content-length or chunked), counts wire bytes, and
notes when a marker (the first `text-delta`, or the fake upstream's first token) first
arrives; it never parses the SSE events themselves."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson

TEXT_DELTA = b'"type":"text-delta"'
UPSTREAM_FIRST = b'"content":"Hello"'
# A large reader buffer: with the default 64 KB the reader pauses the socket mid-body and
# large responses can stall on TCP window probes (~200 ms), which is the client, not the server.
READ_LIMIT = 16 * 2**20


@dataclass(slots=True)
class Result:
    status: int = 0
    started: float = 0.0
    first: float | None = None  # monotonic time the marker arrived
    ended: float = 0.0
    wire_bytes: int = 0
    body: bytes = b""
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first is None else (self.first - self.started) * 1000

    @property
    def duration(self) -> float:
        return self.ended - self.started


class Connection:
    """One keep-alive connection; requests on it run one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        marker: bytes | None = None,
        keep_body: bool = False,
    ) -> Result:
        result = Result(started=time.monotonic())
        try:
            await self._request(method, path, body, headers, marker, keep_body, result)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            await self.close()
        result.ended = time.monotonic()
        return result

    async def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str] | None,
        marker: bytes | None,
        keep_body: bool,
        result: Result,
    ) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=READ_LIMIT
            )
        reader, writer = self.reader, self.writer
        assert reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        if body is not None:
            lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        head = await reader.readuntil(b"\r\n\r\n")
        result.wire_bytes += len(head)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        result.status = int(status_line.split(" ", 2)[1])
        for line in header_lines:
            if ":" in line:
                key, value = line.split(":", 1)
                result.headers[key.strip().lower()] = value.strip()
        kept: list[bytes] = []
        if result.headers.get("transfer-encoding", "").lower() == "chunked":
            await self._chunked(reader, marker, keep_body, result, kept)
        elif "content-length" in result.headers:
            data = await reader.readexactly(int(result.headers["content-length"]))
            result.wire_bytes += len(data)
            if marker is not None and marker in data:
                result.first = time.monotonic()
            kept.append(data)
        else:  # until close
            while data := await reader.read(65536):
                result.wire_bytes += len(data)
                kept.append(data)
            await self.close()
        if keep_body or result.status >= 400:
            result.body = b"".join(kept)
        if result.headers.get("connection", "").lower() == "close":
            await self.close()

    async def _chunked(
        self,
        reader: asyncio.StreamReader,
        marker: bytes | None,
        keep_body: bool,
        result: Result,
        kept: list[bytes],
    ) -> None:
        """Read chunk by chunk; each SSE event is one chunk on every server measured, so the
        marker is looked for inside each chunk."""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            data = await reader.readexactly(size + 2)
            result.wire_bytes += len(size_line) + len(data)
            if size == 0:
                return
            if marker is not None and result.first is None and marker in data:
                result.first = time.monotonic()
            if keep_body or result.status >= 400:
                kept.append(data[:-2])


async def one_shot(
    host: str,
    port: int,
    method: str,
    path: str,
    body: object | None = None,
    headers: dict[str, str] | None = None,
    *,
    marker: bytes | None = None,
    keep_body: bool = True,
) -> Result:
    """One request on its own connection."""
    conn = Connection(host, port)
    hdrs = dict(headers or {})
    raw = None
    if body is not None:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        hdrs.setdefault("content-type", "application/json")
    try:
        return await conn.request(method, path, raw, hdrs, marker=marker, keep_body=keep_body)
    finally:
        await conn.close()
