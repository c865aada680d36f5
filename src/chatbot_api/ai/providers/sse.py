"""Server-sent events off an httpx response: the `data` payload of each event, as bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

ERROR_BODY_MAX_BYTES = 8192


async def iter_sse_data(response: httpx.Response) -> AsyncIterator[bytes]:
    """Yield each event's data (multi-line data joined by newlines); comments, `event:`,
    `id:` and `retry:` fields are skipped. CRLF and LF line endings both work."""
    buffer = b""
    data: list[bytes] = []
    async for chunk in response.aiter_bytes():
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


async def read_error_body(response: httpx.Response) -> bytes:
    """The start of a failed response's body (for logs only), bounded in size."""
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_MAX_BYTES:
            break
    return body
