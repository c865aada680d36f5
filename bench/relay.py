"""Baseline: a bare Python relay, the practical floor for a Python server on this stack.

A raw ASGI app on uvicorn (uvloop, httptools, no access log): `POST /api/chat` forwards the
messages to the upstream with aiohttp (one session, keep-alive pool) and re-emits each upstream
content token as one `text-delta` UI chunk (plus the protocol's start/finish frame), with no
other work: no auth, no database, no stream log, no accumulator.

    python -m bench.relay --port 9300 --upstream http://127.0.0.1:9100/v1
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

import aiohttp
import orjson
import uvicorn

UPSTREAM = os.environ.get("RELAY_UPSTREAM", "http://127.0.0.1:9100/v1")
HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-vercel-ai-ui-message-stream", b"v1"),
    (b"x-accel-buffering", b"no"),
]


def _sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _text(message: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in message.get("parts", []) if p.get("type") == "text")


class Relay:
    def __init__(self) -> None:
        self.http: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.http = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=4000, keepalive_timeout=30),
                        timeout=aiohttp.ClientTimeout(total=None, connect=60, sock_read=60),
                    )
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.http is not None:
                        await self.http.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = orjson.loads(body)
        ui_messages = request.get("messages") or [request["message"]]
        upstream_body = orjson.dumps(
            {
                "model": request["selectedChatModel"],
                "messages": [{"role": m["role"], "content": _text(m)} for m in ui_messages],
                "stream": True,
            }
        )
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await self._relay(upstream_body, send)

    async def _relay(self, upstream_body: bytes, send: Any) -> None:
        assert self.http is not None
        text_id = "0"
        first = _sse({"type": "start", "messageId": str(uuid.uuid4())})
        first += _sse({"type": "start-step"}) + _sse({"type": "text-start", "id": text_id})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        buffer = b""
        async with self.http.post(
            UPSTREAM + "/chat/completions",
            data=upstream_body,
            headers={"content-type": "application/json"},
        ) as response:
            # Read to the body's end (past `[DONE]`): the connection goes back to the pool.
            async for data in response.content.iter_any():
                buffer += data
                *events, buffer = buffer.split(b"\n\n")
                for event in events:
                    if not event.startswith(b"data: ") or event == b"data: [DONE]":
                        continue
                    chunk = orjson.loads(event[6:])
                    choices = chunk.get("choices")
                    content = choices[0]["delta"].get("content") if choices else None
                    if content:
                        delta = {"type": "text-delta", "id": text_id, "delta": content}
                        await send(
                            {"type": "http.response.body", "body": _sse(delta), "more_body": True}
                        )
        last = _sse({"type": "text-end", "id": text_id}) + _sse({"type": "finish-step"})
        last += _sse({"type": "finish", "finishReason": "stop"}) + b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": last})


def main() -> None:
    global UPSTREAM
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--upstream", default=UPSTREAM)
    args = parser.parse_args()
    UPSTREAM = args.upstream.rstrip("/")
    uvicorn.run(
        Relay(),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
