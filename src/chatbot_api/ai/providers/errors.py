"""Provider failures as short public messages: HTTP status, stream errors, transport faults."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from chatbot_api.ai.base import ProviderError

MSG_CREDENTIALS = "The model provider rejected our credentials."
MSG_NOT_FOUND = "The model provider does not know this model."
MSG_RATE_LIMIT = "The model provider is rate limiting requests. Please try again shortly."
MSG_UNAVAILABLE = "The model provider is unavailable right now."
MSG_BAD_REQUEST = "The model provider could not process this request."
MSG_TOO_LARGE = "The conversation is too long for this model."
MSG_CLOSED = "The model provider closed the connection unexpectedly."
MSG_IDLE = "The model provider stopped responding."
MSG_UNREACHABLE = "The model provider could not be reached."
MSG_FAILED = "The model provider failed to answer."
MSG_MALFORMED = "The model provider sent a reply that could not be read."
MSG_CONTENT_FILTER = "The model provider's content filter blocked this request."
MSG_CREDIT_CARD = (
    "AI Gateway requires a valid credit card on file to service requests. Add a card to your "
    "Vercel team to unlock your free credits."
)
DETAIL_MAX_CHARS = 2000


class GatewayCreditCardRequired(ProviderError):
    """The Vercel AI Gateway refuses service until a card is on file (status 402): the chat
    turn maps it to ai-chatbot's `bad_request:activate_gateway`."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(MSG_CREDIT_CARD, detail=detail, status=402)


def _is_credit_card(text: str) -> bool:
    lowered = text.lower()
    return "credit card" in lowered or "customer_verification_required" in lowered


def message_for_status(status: int) -> str:
    if status in (401, 403):
        return MSG_CREDENTIALS
    if status == 404:
        return MSG_NOT_FOUND
    if status == 413:
        return MSG_TOO_LARGE
    if status == 429:
        return MSG_RATE_LIMIT
    if status >= 500:
        return MSG_UNAVAILABLE
    return MSG_BAD_REQUEST


# Error codes (`{"error": {"code": …}}`) whose message says more than their status does.
_CODE_MESSAGES = {
    "content_filter": MSG_CONTENT_FILTER,  # Azure OpenAI: the prompt or the reply was filtered
    "ResponsibleAIPolicyViolation": MSG_CONTENT_FILTER,  # Azure's `innererror.code` for it
    "context_length_exceeded": MSG_TOO_LARGE,
}


def _code_message(error: Any) -> str | None:
    """The message for an error object's `code` (or its `innererror.code`), if it has one."""
    if not isinstance(error, dict):
        return None
    inner = error.get("innererror")
    for code in (error.get("code"), inner.get("code") if isinstance(inner, dict) else None):
        if isinstance(code, str) and code in _CODE_MESSAGES:
            return _CODE_MESSAGES[code]
    return None


def _body_error(body: bytes) -> Any:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed.get("error") if isinstance(parsed, dict) else None


def http_error(
    provider: str, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """A non-2xx answer: a message chosen by its error code, else by status; the body only
    in `detail`; a 429's requested wait in `retry_after`."""
    text = body[:DETAIL_MAX_CHARS].decode("utf-8", "replace")
    detail = f"{provider}: HTTP {status}: {text}"
    if _is_credit_card(text):
        return GatewayCreditCardRequired(detail)
    message = _code_message(_body_error(body)) if status < 500 else None
    retry_after = _retry_after(headers) if headers is not None else None
    return ProviderError(
        message or message_for_status(status), detail=detail, status=status,
        retry_after=retry_after,
    )  # fmt: skip


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if sane."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        if value.strip().isdigit():
            return float(value)
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (ValueError, TypeError, OverflowError):
        return None


_ERROR_TYPES = {
    "authentication_error": 401,
    "permission_error": 403,
    "invalid_api_key": 401,
    "not_found_error": 404,
    "model_not_found": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "overloaded_error": 529,
    "api_error": 500,
    "server_error": 500,
    "invalid_request_error": 400,
    "request_too_large": 413,
}


def stream_error(provider: str, error: Any) -> ProviderError:
    """An error object sent inside the stream (`{"type", "code", "message"}` or a string):
    a message chosen by its code where it has one, else by the status its fields name."""
    detail = f"{provider}: stream error: {str(error)[:DETAIL_MAX_CHARS]}"
    if _is_credit_card(detail):
        return GatewayCreditCardRequired(detail)
    status: int | None = None
    if isinstance(error, dict):
        for key in ("code", "type", "status"):
            value = error.get(key)
            if isinstance(value, str) and value.isdigit():  # Azure: `"code": "429"`
                value = int(value)
            if isinstance(value, int) and 400 <= value < 600:
                status = value
                break
            if isinstance(value, str) and value in _ERROR_TYPES:
                status = _ERROR_TYPES[value]
                break
    message = _code_message(error)
    if message == MSG_CONTENT_FILTER:
        status = status or 400
    if message is None:
        message = message_for_status(status) if status is not None else MSG_FAILED
    return ProviderError(message, detail=detail, status=status)


def transport_error(provider: str, exc: aiohttp.ClientError) -> ProviderError:
    """aiohttp failures: no byte for the idle timeout → stopped responding; no connection
    (refused, DNS, TLS, proxy unreachable, connect timeout) → unreachable; else → closed."""
    detail = f"{provider}: {type(exc).__name__}: {exc}"
    # ConnectionTimeoutError (connect / sock_connect) and SocketTimeoutError (sock_read) both
    # subclass ServerTimeoutError: the connect one first.
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return ProviderError(MSG_UNREACHABLE, detail=detail, retryable=True)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ProviderError(MSG_IDLE, detail=detail)
    # ClientPayloadError (body cut short), ServerDisconnectedError, ClientOSError (reset), …:
    # before the first token, as safe to retry as a refused connection.
    return ProviderError(MSG_CLOSED, detail=detail, retryable=True)
