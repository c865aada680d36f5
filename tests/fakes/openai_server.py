"""A fake OpenAI-compatible `/v1/chat/completions` upstream streaming real SSE chunks.

    with FakeOpenAIServer() as server:           # or `async with`
        server.queue(stream_reply(text_stream(["Hel", "lo"])))
        provider = OpenAICompatProvider(http, server.base_url, "key")
        ...
        server.requests[0].json()["messages"]    # what was sent

Benchmarks: `FakeOpenAIServer(default=benchmark_reply(1000, tokens_per_second=50))` serves
1,000 pre-encoded one-token chunks to every request, paced or (None) at full speed.

Like real upstreams it keeps a connection open for the next request once a reply was sent
whole; `server.connections` counts the TCP connections it accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

import orjson

from tests.fakes.http import (
    FakeHTTPServer,
    Handler,
    RecordedRequest,
    Reply,
    _read_request,
    json_reply,
)

__all__ = [
    "FakeOpenAIServer",
    "KeepAliveServer",
    "RecordedRequest",
    "Reply",
    "benchmark_reply",
    "chunk",
    "encode",
    "error_reply",
    "stream_reply",
    "text_stream",
    "tool_call_chunks",
    "usage_chunk",
]

MODEL = "fake-model"


def chunk(
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    model: str = MODEL,
) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }


def usage_chunk(
    prompt: int, completion: int, *, reasoning: int | None = None, cached: int | None = None
) -> dict[str, Any]:
    """The final usage-only chunk (`stream_options.include_usage`): no choices."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": MODEL,
            "choices": [], "usage": usage}  # fmt: skip


def text_stream(
    pieces: Iterable[str],
    *,
    reasoning: Iterable[str] = (),
    reasoning_field: str = "reasoning_content",
    finish: str = "stop",
    usage: tuple[int, int] | None = (10, 20),
) -> list[dict[str, Any]]:
    """Role chunk, reasoning deltas, content deltas, the finish chunk and a usage chunk."""
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({reasoning_field: piece}) for piece in reasoning]
    events += [chunk({"content": piece}) for piece in pieces]
    events.append(chunk(finish_reason=finish))
    if usage is not None:
        events.append(usage_chunk(*usage))
    return events


def tool_call_chunks(
    index: int, call_id: str, name: str, fragments: Iterable[str]
) -> list[dict[str, Any]]:
    """A streamed tool call: id + name first, then argument fragments."""
    first = {"index": index, "id": call_id, "type": "function",
             "function": {"name": name, "arguments": ""}}  # fmt: skip
    events = [chunk({"tool_calls": [first]})]
    events += [
        chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        for fragment in fragments
    ]
    return events


def encode(events: Iterable[dict[str, Any] | str | bytes], *, done: bool = True) -> list[bytes]:
    """SSE-encode: dicts as JSON `data:` events, str as a raw data payload, bytes verbatim."""
    out = []
    for event in events:
        if isinstance(event, bytes):
            out.append(event)
        elif isinstance(event, str):
            out.append(b"data: " + event.encode() + b"\n\n")
        else:
            out.append(b"data: " + orjson.dumps(event) + b"\n\n")
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def stream_reply(
    events: Iterable[dict[str, Any] | str | bytes], *, done: bool = True, **options: Any
) -> Reply:
    """A 200 SSE stream of `events` (+ `[DONE]`); options: delay, first_delay, drop_after,
    stall_after, stall_seconds (see Reply)."""
    return Reply(chunks=encode(events, done=done), **options)


def error_reply(status: int, body: Any) -> Reply:
    return json_reply(status, body)


def benchmark_reply(
    n_tokens: int, tokens_per_second: float | None = None, *, token: str = "tok "
) -> Reply:
    """`n_tokens` one-token content chunks, pre-encoded once; paced when a rate is given."""
    events = text_stream([token] * n_tokens, usage=(n_tokens, n_tokens))
    delay = 1.0 / tokens_per_second if tokens_per_second else 0.0
    return Reply(chunks=encode(events), delay=delay)


def _default_reply(request: RecordedRequest) -> Reply:
    if request.method != "POST" or request.path.rstrip("/") != "/v1/chat/completions":
        return error_reply(
            404, {"error": {"message": "not found", "type": "invalid_request_error"}}
        )
    return stream_reply(text_stream(["Hello ", "from ", "the ", "fake ", "server."]))


TERMINATOR = b"0\r\n\r\n"  # the last chunk of a chunked body


class _KeepAliveWriter:
    """The base server's writer minus its `connection: close` header; `complete` is True when
    the reply's last write was the chunked terminator (its body ended as HTTP says)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.complete = False

    def write(self, data: bytes) -> None:
        if data.startswith(b"HTTP/1.1 "):
            data = data.replace(b"connection: close\r\n", b"")
        self.complete = data == TERMINATOR
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()


class KeepAliveServer(FakeHTTPServer):
    """A FakeHTTPServer whose connections serve request after request (HTTP/1.1 keep-alive)
    while each reply ends whole; a dropped, stalled-out or abandoned reply closes it."""

    def __init__(self, default: Handler | Reply | None = None) -> None:
        super().__init__(default)
        self.connections = 0  # TCP connections accepted

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    request = await _read_request(reader, self.head_received)
                except ConnectionError:
                    return  # the client closed a kept-alive connection between requests
                if request is None:
                    return
                self.requests.append(request)
                kept = _KeepAliveWriter(writer)
                await self._send(self.reply_for(request), reader, cast(asyncio.StreamWriter, kept))
                if not kept.complete:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self._client_left()
        finally:
            writer.close()


class FakeOpenAIServer(KeepAliveServer):
    """An OpenAI-compatible upstream; `base_url` ends in `/v1` like the real ones."""

    def __init__(self, default: Handler | Reply | None = None) -> None:
        super().__init__(default or _default_reply)

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"
