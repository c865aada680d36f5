"""Benchmark upstream: a lean fake OpenAI-compatible `/v1/chat/completions` (streaming only).

The requested `model` says what to stream: `fake-n<N>-r<R>` = N one-token content chunks at
R tokens/s (R = 0: as fast as the socket takes them). Every response is pre-encoded once per N
(SSE events already framed as HTTP/1.1 chunks), so serving a token costs one `write` when
paced and almost nothing at full speed. Keep-alive HTTP/1.1 (request bodies by Content-Length
or chunked, answered once whole); `GET /health` answers `ok`.

    python -m bench.fake_upstream --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import re

import orjson

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

MODEL_RE = re.compile(rb'"model"\s*:\s*"fake-n(\d+)-r(\d+)"')
_TEXT = (
    "the quick brown fox jumps over a lazy dog while streaming tokens arrive one by one "
    "and every server must forward them to its client without delay or extra work"
)
WORDS = _TEXT.split(" ")
FIRST_TOKEN = "Hello"  # the load generator times the first token by this word
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
HEALTH = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


def _event(payload: dict[str, object] | str) -> bytes:
    data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    body = f"data: {data}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(body), body)


def _chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def token_text(index: int) -> str:
    return FIRST_TOKEN if index == 0 else " " + WORDS[index % len(WORDS)]


class Script:
    """One pre-encoded reply of N tokens: head, N token frames, tail."""

    __slots__ = ("head", "joined", "tail", "tokens")

    def __init__(self, n: int) -> None:
        self.head = HEAD + _event(_chunk({"role": "assistant", "content": ""}))
        self.tokens = [_event(_chunk({"content": token_text(i)})) for i in range(n)]
        usage = {"prompt_tokens": 20, "completion_tokens": n, "total_tokens": 20 + n}
        self.tail = (
            _event(_chunk({}, "stop"))
            + _event({**_chunk({}), "choices": [], "usage": usage})
            + _event("[DONE]")
            + b"0\r\n\r\n"
        )
        self.joined = self.head + b"".join(self.tokens) + self.tail


_SCRIPTS: dict[int, Script] = {}


def script(n: int) -> Script:
    found = _SCRIPTS.get(n)
    if found is None:
        found = _SCRIPTS[n] = Script(n)
    return found


def _chunked_body(buffer: bytes, start: int) -> tuple[bytes, int] | None:
    """(body, end offset) of a whole chunked body starting at `start`, or None if not whole."""
    parts: list[bytes] = []
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(buffer[at:line_end].split(b";", 1)[0], 16)
        at = line_end + 2
        if size == 0:
            if len(buffer) < at + 2:
                return None
            return b"".join(parts), at + 2  # no trailers: the empty line
        if len(buffer) < at + size + 2:
            return None
        parts.append(buffer[at : at + size])
        at += size + 2


class Upstream(asyncio.Protocol):
    __slots__ = ("buffer", "handle", "loop", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.handle: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            if b"transfer-encoding: chunked" in head:
                found = _chunked_body(self.buffer, end + 4)
                if found is None:
                    return  # the body is not whole yet: answer nothing before it is
                body, consumed = found
            else:
                length = 0
                at = head.find(b"content-length:")
                if at >= 0:
                    length = int(head[at + 15 :].split(b"\r\n", 1)[0])
                if len(self.buffer) < end + 4 + length:
                    return
                body, consumed = self.buffer[end + 4 : end + 4 + length], end + 4 + length
            self.buffer = self.buffer[consumed:]
            self.respond(head, body)

    def respond(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        if head.startswith(b"get /health"):
            self.transport.write(HEALTH)
            return
        match = MODEL_RE.search(body)
        if not head.startswith(b"post") or match is None:
            self.transport.write(NOT_FOUND)
            return
        reply = script(int(match[1]))
        rate = int(match[2])
        if rate == 0:
            self.transport.write(reply.joined)
            return
        self.transport.write(reply.head + reply.tokens[0])
        if len(reply.tokens) == 1:
            self.transport.write(reply.tail)
            return
        interval = 1.0 / rate
        start = self.loop.time()
        self.handle = self.loop.call_at(start + interval, self._tick, reply, 1, start, interval)

    def _tick(self, reply: Script, index: int, start: float, interval: float) -> None:
        """Token `index` at `start + index * interval` (an absolute schedule: no drift)."""
        transport = self.transport
        if transport is None:
            return
        transport.write(reply.tokens[index])
        index += 1
        if index < len(reply.tokens):
            self.handle = self.loop.call_at(
                start + index * interval, self._tick, reply, index, start, interval
            )
        else:
            transport.write(reply.tail)
            self.handle = None


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    for n in (8, 20, 300, 10_000):
        script(n)  # pre-encode the scenario sizes before any request
    if uvloop is not None:
        uvloop.run(serve(args.host, args.port))
    else:
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
