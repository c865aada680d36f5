"""Errors of the `/v1` API; each names what is wrong in its message (`{message, error}`)."""

from __future__ import annotations

import uuid

from chatbot_api.core.errors import AppError, PayloadTooLarge

__all__ = ["PayloadTooLarge"]  # re-exported: cloud modules import it from here


class ThreadNotFound(AppError):
    code = "not_found:thread"

    def __init__(self) -> None:
        super().__init__("Thread not found")


class MessageNotFound(AppError):
    code = "not_found:message"

    def __init__(self) -> None:
        super().__init__("Message not found")


class AttachmentNotFound(AppError):
    code = "not_found:attachment"

    def __init__(self) -> None:
        super().__init__("Attachment not found")


class CloudBadRequest(AppError):
    code = "bad_request:cloud"


class CloudForbidden(AppError):
    code = "forbidden:cloud"


class CloudUnauthorized(AppError):
    code = "unauthorized:cloud"


class StorageUnavailable(AppError):
    """503: the storage backend failed; nothing was stored."""

    code = "offline:storage"


def parse_id(value: str) -> uuid.UUID | None:
    """A path or body id as a UUID; None when it is not one (so it cannot exist)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
