"""Wire models of the `/v1` threads API: bodies in (bounded), thread and message objects out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

TITLE_MAX_LENGTH = 255
EXTERNAL_ID_MAX_LENGTH = 255
METADATA_MAX_BYTES = 16 * 1024
ID_MAX_LENGTH = 255
FORMAT_MAX_LENGTH = 64


def check_metadata(value: Any) -> Any:
    if value is not None and len(orjson.dumps(value)) > METADATA_MAX_BYTES:
        raise ValueError(f"must be at most {METADATA_MAX_BYTES} bytes of JSON")
    return value


class CloudRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- threads -------------------------------------------------------------------------------


class ThreadCreate(CloudRequest):
    last_message_at: datetime | None = None
    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)
    metadata: Any = None
    external_id: str | None = Field(default=None, max_length=EXTERNAL_ID_MAX_LENGTH)

    _metadata = field_validator("metadata")(check_metadata)


class ThreadUpdate(CloudRequest):
    """A partial update: only the keys present are applied (`metadata: null` clears it)."""

    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)
    last_message_at: datetime | None = None
    metadata: Any = None
    is_archived: bool | None = None

    _metadata = field_validator("metadata")(check_metadata)

    @field_validator("last_message_at", "is_archived")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class ThreadCreated(BaseModel):
    thread_id: str


class ThreadOut(BaseModel):
    id: str
    title: str | None
    is_archived: bool
    external_id: str | None
    metadata: Any
    project_id: str
    workspace_id: str
    created_at: str = Field(examples=["2026-11-21T10:00:00.000Z"])
    updated_at: str = Field(examples=["2026-11-21T10:00:00.000Z"])
    last_message_at: str = Field(examples=["2026-11-21T10:00:00.000Z"])


class ThreadList(BaseModel):
    threads: list[ThreadOut]


class ThreadEnvelope(BaseModel):
    thread: ThreadOut


class ClaimRequest(CloudRequest):
    refresh_token: str = Field(min_length=1, max_length=256)


class ClaimResult(BaseModel):
    moved: int


# --- messages ------------------------------------------------------------------------------


class MessageCreate(CloudRequest):
    parent_id: str | None = Field(default=None, max_length=ID_MAX_LENGTH)
    format: str = Field(min_length=1, max_length=FORMAT_MAX_LENGTH, examples=["ai-sdk/v6"])
    content: dict[str, Any]


class MessageUpdate(CloudRequest):
    content: dict[str, Any]


class MessageCreated(BaseModel):
    message_id: str


class MessageOut(BaseModel):
    id: str
    parent_id: str | None
    height: int
    created_at: str
    updated_at: str
    format: str
    content: dict[str, Any]


class MessageList(BaseModel):
    messages: list[MessageOut]
