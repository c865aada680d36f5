"""Server-sent events off an aiohttp response: the `data` payload of each event, as bytes, and
decoded; the bounded reads of an error body and of a finished stream's tail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import orjson

from chatbot_api.ai.base import ProviderError
from chatbot_api.ai.providers.errors import MSG_MALFORMED

ERROR_BODY_MAX_BYTES = 8192
# After the terminal event only the chunked terminator (or a stray keep-alive) should follow:
# read it so the connection goes back to the pool; past these caps just close it.
DRAIN_MAX_BYTES = 64 * 1024
DRAIN_MAX_SECONDS = 1.0


async def iter_sse_data(response: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
    """Yield each event's data (multi-line data joined by newlines); comments, `event:`,
    `id:` and `retry:` fields are skipped. CRLF and LF line endings both work."""
    readany = response.content.readany  # whatever has arrived; b"" at the end of the body
    buffer = b""
    data: list[bytes] = []
    while chunk := await readany():
        buffer += chunk
        if b"\n" not in chunk:
            continue
        lines = buffer.split(b"\n")
        buffer = lines.pop()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield data[0] if len(data) == 1 else b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
    if buffer.startswith(b"data:"):
        data.append(buffer[6:] if buffer[5:6] == b" " else buffer[5:])
    if data:
        yield b"\n".join(data)


def decode_event(data: bytes, provider: str) -> Any:
    """An event's JSON payload; None for an empty one (a keep-alive). Anything else that is
    not JSON ends the step: ProviderError, its start in the detail (the logs) only."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if not data.strip():
            return None
        snippet = data[:200].decode("utf-8", "replace")
        raise ProviderError(
            MSG_MALFORMED, detail=f"{provider}: an event is not JSON: {snippet!r}"
        ) from None


async def read_error_body(response: aiohttp.ClientResponse) -> bytes:
    """The start of a failed response's body (for logs only), bounded in size."""
    body = b""
    readany = response.content.readany
    while chunk := await readany():
        body += chunk
        if len(body) >= ERROR_BODY_MAX_BYTES:
            break
    return body


async def drain(response: aiohttp.ClientResponse) -> None:
    """Read a finished stream's body to its end, so that leaving the response returns the
    connection to the pool; more than a few KiB or a second left, close it instead."""
    content = response.content
    if content.is_eof():  # the usual case: the body's end came with the last event
        return
    received = 0
    try:
        async with asyncio.timeout(DRAIN_MAX_SECONDS):
            while chunk := await content.readany():
                received += len(chunk)
                if received > DRAIN_MAX_BYTES:
                    response.close()
                    return
    except (TimeoutError, aiohttp.ClientError):
        response.close()
