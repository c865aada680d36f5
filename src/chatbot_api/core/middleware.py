"""ASGI middleware: request id + access log, and JSON bodies whatever their Content-Type."""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("chatbot_api.access")

_FORM_TYPES = (b"multipart/form-data", b"application/x-www-form-urlencoded")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RequestContextMiddleware:
    """Binds a request id (from `X-Request-ID` or new) to logs and the response; logs one
    access line per request; treats /api request bodies as JSON whatever their Content-Type
    (the ai-chatbot client sends JSON as text/plain, contract §0.5)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(scope["headers"])
        request_id = ""
        for key, value in headers:
            if key == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
        if not request_id:
            request_id = uuid.uuid4().hex
        if scope["method"] in _BODY_METHODS and scope["path"].startswith("/api/"):
            headers = _force_json_content_type(headers)
        # The state dict is shared with the outer scope, so the server-error handler (which runs
        # outside this middleware) can still name the request id on a 500.
        scope.setdefault("state", {})["request_id"] = request_id
        scope = {**scope, "headers": headers}

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        header_value = request_id.encode("latin-1")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", header_value)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )


def _force_json_content_type(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out = []
    for key, value in headers:
        if key == b"content-type":
            if value.lower().startswith(_FORM_TYPES):
                return headers
            continue
        out.append((key, value))
    out.append((b"content-type", b"application/json"))
    return out
