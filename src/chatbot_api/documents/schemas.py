"""Wire models of the documents domain: document versions, suggestions, the save body."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from chatbot_api.db.types import iso_ms
from chatbot_api.documents.models import Document, Suggestion

DocumentKind = Literal["text", "code", "image", "sheet"]
DOCUMENT_KINDS: tuple[str, ...] = ("text", "code", "image", "sheet")

TITLE_MAX_CHARS = 256
CONTENT_MAX_CHARS = 1_000_000

IsoMs = Annotated[
    datetime,
    PlainSerializer(iso_ms, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-01-15T16:06:42.123Z"]},
        mode="serialization",
    ),
]
"""A timestamp on the wire: `YYYY-MM-DDTHH:MM:SS.sssZ`, as JavaScript's `toISOString()`."""


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DocumentSaveIn(BaseModel):
    """Body of `POST /api/document` (sent by the ai-chatbot client as text/plain JSON)."""

    title: str = Field(min_length=1, max_length=TITLE_MAX_CHARS)
    content: str | None = Field(default=None, max_length=CONTENT_MAX_CHARS)
    kind: DocumentKind = "text"


class DocumentOut(CamelModel):
    """One version of a document."""

    id: uuid.UUID
    created_at: IsoMs
    title: str
    content: str | None
    kind: str
    user_id: uuid.UUID

    @classmethod
    def from_row(cls, row: Document) -> DocumentOut:
        return cls(
            id=row.id,
            created_at=row.created_at,
            title=row.title,
            content=row.content,
            kind=row.kind,
            user_id=row.user_id,
        )


class SuggestionOut(CamelModel):
    """One suggested edit of a document version."""

    id: uuid.UUID
    document_id: uuid.UUID
    document_created_at: IsoMs
    original_text: str
    suggested_text: str
    description: str | None
    is_resolved: bool
    user_id: uuid.UUID
    created_at: IsoMs

    @classmethod
    def from_row(cls, row: Suggestion) -> SuggestionOut:
        return cls(
            id=row.id,
            document_id=row.document_id,
            document_created_at=row.document_created_at,
            original_text=row.original_text,
            suggested_text=row.suggested_text,
            description=row.description,
            is_resolved=row.is_resolved,
            user_id=row.user_id,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class SuggestionDraft:
    """A suggestion as a tool produces it, before it is attached to a document version."""

    original_text: str
    suggested_text: str
    description: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)  # the id the client already saw
