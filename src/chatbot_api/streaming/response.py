"""The HTTP response of a UI message stream: tails a stream log straight onto the ASGI `send`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chatbot_api.streaming.log import StreamLog

UI_STREAM_HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "connection": "keep-alive",
    "x-vercel-ai-ui-message-stream": "v1",
    "x-accel-buffering": "no",
}
_RAW_HEADERS = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in UI_STREAM_HEADERS.items()]


class LogStreamResponse(Response):
    """Sends the log's chunks as they come (each one or more whole SSE events).

    Unlike Starlette's StreamingResponse (an anyio task group and a second task per response
    under uvicorn), the chunks are sent from the request's own task, and one small task waits
    for the client to leave: then reading stops (the turn itself goes on).
    """

    media_type = "text/event-stream"

    def __init__(
        self, stream_log: StreamLog, stream_key: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = 200
        self.background = None
        self.body = b""
        self._log = stream_log
        self._key = stream_key
        self.raw_headers = list(_RAW_HEADERS)
        if headers:
            self.raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._streaming = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.get_running_loop().create_task(self._watch(receive, task))
        self._streaming = True
        try:
            async for chunk in self._log.read(self._key):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except asyncio.CancelledError:
            if not watcher.done() or watcher.cancelled() or not watcher.result():
                raise  # not the client leaving: shutdown
            task.uncancel()
            return
        finally:
            self._streaming = False
            watcher.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive, task: asyncio.Task[None]) -> bool:
        """True (and the stream task cancelled) when the client disconnected mid-stream."""
        with contextlib.suppress(OSError):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
        if not self._streaming:
            return False
        task.cancel()
        return True
