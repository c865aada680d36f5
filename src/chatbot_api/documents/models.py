"""The ai-chatbot `"Document"` (one row per version; kind stored in a column named `"text"`)
and `"Suggestion"` tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chatbot_api.db.base import Base
from chatbot_api.db.types import UTCDateTime, gen_random_uuid, utcnow


class Document(Base):
    __tablename__ = "Document"
    __table_args__ = (PrimaryKeyConstraint("id", "createdAt", name="Document_id_createdAt_pk"),)

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
    title: Mapped[str] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str] = mapped_column("text", String, default="text", server_default=text("'text'"))
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, ForeignKey("User.id"))


class Suggestion(Base):
    __tablename__ = "Suggestion"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="Suggestion_id_pk"),
        ForeignKeyConstraint(
            ["documentId", "documentCreatedAt"],
            ["Document.id", "Document.createdAt"],
            # Drizzle's 65-character name, as PostgreSQL truncates it (63 bytes).
            name="Suggestion_documentId_documentCreatedAt_Document_id_createdAt_f",
        ),
        # Ours (additive): suggestions of a document.
        Index("Suggestion_documentId_idx", "documentId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    document_id: Mapped[uuid.UUID] = mapped_column("documentId", Uuid)
    document_created_at: Mapped[datetime] = mapped_column("documentCreatedAt", UTCDateTime)
    original_text: Mapped[str] = mapped_column("originalText", Text)
    suggested_text: Mapped[str] = mapped_column("suggestedText", Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_resolved: Mapped[bool] = mapped_column(
        "isResolved", Boolean, default=False, server_default=false()
    )
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, ForeignKey("User.id"))
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
