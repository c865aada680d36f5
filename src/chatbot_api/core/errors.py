"""The one error family (AppError) and the ai-chatbot error catalogue (contract §1.16).

Services raise AppError subclasses (or AppError with a code); `core.handlers` renders them.
"""

from __future__ import annotations

from typing import Any, ClassVar

STATUS_BY_TYPE: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limit": 429,
    "offline": 503,
}

DEFAULT_MESSAGE = "Something went wrong. Please try again later."

MESSAGES: dict[str, str] = {
    "bad_request:api": (
        "The request couldn't be processed. Please check your input and try again."
    ),
    "bad_request:activate_gateway": (
        "AI Gateway requires a valid credit card on file to service requests. Please visit "
        "https://vercel.com/d?to=%2F%5Bteam%5D%2F%7E%2Fai%3Fmodal%3Dadd-credit-card to add a card "
        "and unlock your free credits."
    ),
    "unauthorized:auth": "You need to sign in before continuing.",
    "forbidden:auth": "Your account does not have access to this feature.",
    "forbidden:model": "This model is not available to your account.",
    "rate_limit:chat": (
        "You have exceeded your maximum number of messages for the day. Please try again later."
    ),
    "not_found:chat": "The requested chat was not found. Please check the chat ID and try again.",
    "forbidden:chat": (
        "This chat belongs to another user. Please check the chat ID and try again."
    ),
    "unauthorized:chat": ("You need to sign in to view this chat. Please sign in and try again."),
    "offline:chat": (
        "We're having trouble sending your message. Please check your internet connection and "
        "try again."
    ),
    "not_found:document": (
        "The requested document was not found. Please check the document ID and try again."
    ),
    "forbidden:document": (
        "This document belongs to another user. Please check the document ID and try again."
    ),
    "unauthorized:document": (
        "You need to sign in to view this document. Please sign in and try again."
    ),
    "bad_request:document": (
        "The request to create or update the document was invalid. Please check your input and "
        "try again."
    ),
}


def message_for(code: str) -> str:
    """The catalogue text of a code; database codes and unknown codes get the default text."""
    if "database" in code:
        return DEFAULT_MESSAGE
    return MESSAGES.get(code, DEFAULT_MESSAGE)


def status_for(code: str) -> int:
    return STATUS_BY_TYPE.get(code.split(":", 1)[0], 500)


class AppError(Exception):
    """An expected error with its own status and envelope.

    `code` is `<type>:<surface>` (contract §1.16); the HTTP status follows from the type.
    `cause` is the optional human-readable detail; `headers` go onto the response.
    """

    code: ClassVar[str] = "bad_request:api"
    # True when the request's writes must be kept although it fails (e.g. a security
    # revocation): the session dependency then commits instead of rolling back.
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        cause: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.code = code or type(self).code  # type: ignore[misc]
        self.cause = cause
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{self.code}: {cause}" if cause else self.code)

    @property
    def status(self) -> int:
        return status_for(self.code)

    @property
    def message(self) -> str:
        return message_for(self.code)

    @property
    def logged_only(self) -> bool:
        """Database errors are logged; the client sees only the generic envelope."""
        return self.code.endswith(":database")

    def envelope(self) -> dict[str, Any]:
        if self.logged_only:
            return {"code": "", "message": DEFAULT_MESSAGE}
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.cause is not None:
            body["cause"] = self.cause
        body.update(self.extra)
        return body


class BadRequest(AppError):
    code = "bad_request:api"


class PayloadTooLarge(AppError):
    """413: the body (or one field of it) is over its size limit."""

    code = "bad_request:too_large"

    @property
    def status(self) -> int:
        return 413


class DatabaseError(AppError):
    code = "bad_request:database"


DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(AppError):
    """503: the database cannot be reached right now; clients retry after a few seconds."""

    code = "offline:database"

    def __init__(self, cause: str | None = None) -> None:
        super().__init__(cause, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


class RateLimited(AppError):
    """Too many requests; `retry_after` seconds go into the Retry-After header."""

    code = "rate_limit:api"

    def __init__(self, retry_after: int, cause: str | None = None, *, code: str | None = None):
        super().__init__(cause, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class ChatNotFound(AppError):
    code = "not_found:chat"


class ChatForbidden(AppError):
    code = "forbidden:chat"


class DocumentNotFound(AppError):
    code = "not_found:document"


class DocumentForbidden(AppError):
    code = "forbidden:document"
