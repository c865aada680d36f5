"""Exception handlers: every error leaves as a JSON envelope, never an empty body or a trace.

`/api` routes speak the ai-chatbot envelope `{code, message[, cause]}`; `/v1` routes speak the
Assistant Cloud envelope `{message, error}`.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatbot_api.core.errors import DEFAULT_MESSAGE, AppError
from chatbot_api.db.errors import DRIVER_ERRORS, database_error, database_unreachable

log = structlog.get_logger("chatbot_api.errors")


def _is_cloud(request: Request) -> bool:
    return request.url.path.startswith("/v1/") or request.url.path == "/v1"


def _render(
    request: Request,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """`code` names a logged-only error (its ai-chatbot body says `code: ""`) to /v1 clients."""
    if _is_cloud(request):
        body = {
            "message": body.get("cause") or body.get("message") or DEFAULT_MESSAGE,
            "error": body.get("code") or code or "internal_error",
        }
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(exc: RequestValidationError) -> str:
    """`body.message.parts.0.text: String should have at most 2000 characters; …`"""
    parts = []
    for error in exc.errors()[:5]:
        loc = ".".join(str(item) for item in error.get("loc", ()))
        parts.append(f"{loc}: {error.get('msg', 'invalid')}" if loc else str(error.get("msg")))
    return "; ".join(parts) or "Invalid request"


async def app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.logged_only:
        log.error("database error", code=exc.code, cause=exc.cause, path=request.url.path)
    return _render(request, exc.status, exc.envelope(), exc.headers, exc.code)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = AppError(describe_validation_error(exc), code="bad_request:api")
    return _render(request, 400, error.envelope())


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found:api", 405: "bad_request:api", 401: "unauthorized:auth"}.get(
        exc.status_code, "bad_request:api"
    )
    cause = exc.detail if isinstance(exc.detail, str) else None
    body = AppError(cause, code=code).envelope()
    return _render(request, exc.status_code, body, dict(exc.headers or {}))


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A 500 in the envelope, logged with its trace; but a lost database is the 503 it is,
    wherever it was raised (outside a request's session too: a dependency's or a service's
    own connection). Other database errors outside a session stay 500s: bugs, traced."""
    if database_unreachable(exc):
        return await app_error_handler(request, database_error(exc))
    request_id = str(getattr(request.state, "request_id", ""))
    log.exception(
        "unhandled error", path=request.url.path, method=request.method, request_id=request_id
    )
    headers = {"X-Request-ID": request_id} if request_id else None
    return _render(request, 500, {"code": "", "message": DEFAULT_MESSAGE}, headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    # The types a lost database surfaces as, handled inside the app (no re-raise, no second
    # trace in the server's log); anything else of them is still a logged 500.
    for kind in (OSError, SQLAlchemyError, *DRIVER_ERRORS):
        app.add_exception_handler(kind, unhandled_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
