"""ASGI middleware: request id + access log, and JSON bodies whatever their Content-Type."""

from __future__ import annotations

import time
import uuid

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatbot_api.core.errors import PayloadTooLarge

log = structlog.get_logger("chatbot_api.access")

_FORM_TYPES = (b"multipart/form-data", b"application/x-www-form-urlencoded")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RequestContextMiddleware:
    """Binds a request id (from `X-Request-ID` or new) to logs and the response; logs one
    access line per request; treats /api request bodies as JSON whatever their Content-Type
    (the ai-chatbot client sends JSON as text/plain, contract §0.5)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 32 * 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

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
        too_large = False
        if scope["method"] in _BODY_METHODS:
            if scope["path"].startswith("/api/"):
                headers = _force_json_content_type(headers)
            if not _is_multipart(headers):  # uploads enforce their own, smaller limits
                too_large = _content_length(headers) > self.max_body_bytes
                receive = _limited(receive, self.max_body_bytes)
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
            if too_large:  # answered without reading the body
                await _too_large(scope, send_wrapper, self.max_body_bytes)
            else:
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


def _is_multipart(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"content-type" and v.lower().startswith(b"multipart/") for k, v in headers)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _limited(receive: Receive, limit: int) -> Receive:
    """`receive` that fails with 413 as soon as the body grows past `limit` bytes."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        return message

    return limited_receive


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    """413 without reading the body, in the envelope of the API the path belongs to."""
    error = PayloadTooLarge(f"Request body is larger than {limit} bytes.")
    if scope["path"].startswith("/v1"):
        body = {"message": error.cause, "error": error.code}
    else:
        body = error.envelope()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
