"""Wire models of the chats domain: chats, history pages, messages, votes; error responses."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from chatbot_api.chats.models import Chat
from chatbot_api.chats.repository import MessageText
from chatbot_api.core.schemas import CamelModel, ErrorEnvelope
from chatbot_api.db.types import iso_ms

Visibility = Literal["public", "private"]

IsoMs = Annotated[
    datetime,
    PlainSerializer(iso_ms, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time", "example": "2026-01-15T16:06:42.123Z"}),
]
"""A timestamp serialized as `YYYY-MM-DDTHH:MM:SS.sssZ` (JavaScript's `toISOString()`)."""


_STATUS_TEXT = {
    400: "Bad input (`bad_request:api`); `cause` names what is wrong",
    401: "Nobody is signed in",
    403: "The chat belongs to another user (who made it public: it may be read, not changed)",
    404: "No such chat (or message), or another user's private chat",
    429: "The daily message limit is reached (`rate_limit:chat`, with Retry-After)",
    503: "The database, or the stream log, cannot be reached; or the server is restarting",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error envelope under each status."""
    return {
        status: {"model": ErrorEnvelope, "description": _STATUS_TEXT[status]} for status in statuses
    }


class ChatOut(CamelModel):
    """A `"Chat"` row as the Next.js routes return it."""

    id: uuid.UUID
    created_at: IsoMs
    title: str
    user_id: uuid.UUID
    visibility: str


class HistoryPage(CamelModel):
    chats: list[ChatOut]
    has_more: bool = Field(description="More chats exist beyond this page in its direction.")


class DeletedCount(CamelModel):
    deleted_count: int


class MessageMetadata(CamelModel):
    created_at: IsoMs


class MessageOut(CamelModel):
    """A stored message as an AI SDK UI message (parts JSON as stored)."""

    id: uuid.UUID
    role: str
    parts: list[dict[str, Any]]
    attachments: list[Any]
    created_at: IsoMs
    metadata: MessageMetadata


class ChatWithMessages(CamelModel):
    chat: ChatOut
    messages: list[MessageOut] = Field(description="Oldest first.")
    is_readonly: bool = Field(description="True when the caller is not the owner (public chat).")


class VisibilityUpdate(CamelModel):
    visibility: Visibility


class VoteOut(CamelModel):
    chat_id: uuid.UUID
    message_id: uuid.UUID
    is_upvoted: bool


class VoteIn(CamelModel):
    """`PATCH /api/vote` body. Fields are checked by the route so that a missing one answers
    the upstream cause; the schema below still documents all three as required."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        json_schema_extra={"required": ["chatId", "messageId", "type"]},
    )

    chat_id: Annotated[str | None, WithJsonSchema({"type": "string", "format": "uuid"})] = None
    message_id: Annotated[str | None, WithJsonSchema({"type": "string", "format": "uuid"})] = None
    type: Annotated[str | None, WithJsonSchema({"type": "string", "enum": ["up", "down"]})] = None


def chat_out(chat: Chat) -> ChatOut:
    return ChatOut.model_validate(chat)


def chat_json(chat: Chat) -> dict[str, Any]:
    return {
        "id": str(chat.id),  # str(): asyncpg's UUID type is not a uuid.UUID to orjson
        "createdAt": iso_ms(chat.created_at),
        "title": chat.title,
        "userId": str(chat.user_id),
        "visibility": chat.visibility,
    }


def chat_view_json(chat: Chat, messages: Iterable[MessageText], *, is_readonly: bool) -> bytes:
    """`ChatWithMessages` encoded in one orjson pass. A chat may hold thousands of messages:
    each arrives as text (`repository.get_message_texts`), and its parts and attachments, JSON
    as stored, go into the output verbatim (`orjson.Fragment`), never decoded."""
    rendered = [
        {
            "id": message_id,
            "role": role,
            "parts": orjson.Fragment(parts),
            "attachments": orjson.Fragment(attachments),
            "createdAt": created_at,
            "metadata": {"createdAt": created_at},
        }
        for message_id, role, parts, attachments, created_at in messages
    ]
    return orjson.dumps({"chat": chat_json(chat), "messages": rendered, "isReadonly": is_readonly})
