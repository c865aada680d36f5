"""Every SQL statement on the `"Document"` (versions) and `"Suggestion"` tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.documents.models import Document, Suggestion


async def list_versions(session: AsyncSession, doc_id: uuid.UUID) -> Sequence[Document]:
    """All versions of a document, oldest first."""
    result = await session.scalars(
        select(Document).where(Document.id == doc_id).order_by(Document.created_at.asc())
    )
    return result.all()


async def get_latest_version(session: AsyncSession, doc_id: uuid.UUID) -> Document | None:
    result = await session.scalars(
        select(Document).where(Document.id == doc_id).order_by(Document.created_at.desc()).limit(1)
    )
    return result.first()


async def get_owner_id(session: AsyncSession, doc_id: uuid.UUID) -> uuid.UUID | None:
    """The `userId` of the oldest version (the document's owner), or None if it has none."""
    result = await session.scalars(
        select(Document.user_id)
        .where(Document.id == doc_id)
        .order_by(Document.created_at.asc())
        .limit(1)
    )
    return result.first()


async def lock_document_id(session: AsyncSession, doc_id: uuid.UUID) -> None:
    """Serialise writers of one document id until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock keyed by the id. SQLite has one
    writer at a time but the driver begins transactions lazily, so a no-op write takes the
    database write lock now, before the caller reads the latest version.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(doc_id.bytes[:8], "big", signed=True)
        await session.execute(select(func.pg_advisory_xact_lock(key)))
    else:
        await session.execute(
            update(Document).where(Document.id == doc_id, false()).values(title=Document.title),
            execution_options={"synchronize_session": False},
        )


async def insert_version(session: AsyncSession, document: Document) -> Document:
    session.add(document)
    await session.flush()
    return document


async def delete_versions_after(
    session: AsyncSession, doc_id: uuid.UUID, after: datetime
) -> list[Document]:
    """Delete the suggestions of versions later than `after`, then those versions; returns
    the deleted versions, oldest first."""
    await session.execute(
        delete(Suggestion).where(
            Suggestion.document_id == doc_id, Suggestion.document_created_at > after
        )
    )
    result = await session.scalars(
        delete(Document)
        .where(Document.id == doc_id, Document.created_at > after)
        .returning(Document),
        execution_options={"synchronize_session": False},
    )
    return sorted(result.all(), key=lambda row: row.created_at)


async def list_suggestions(session: AsyncSession, doc_id: uuid.UUID) -> Sequence[Suggestion]:
    """All suggestions of every version of a document, oldest first."""
    result = await session.scalars(
        select(Suggestion)
        .where(Suggestion.document_id == doc_id)
        .order_by(Suggestion.created_at.asc(), Suggestion.id.asc())
    )
    return result.all()


async def insert_suggestions(
    session: AsyncSession, suggestions: Sequence[Suggestion]
) -> list[Suggestion]:
    session.add_all(suggestions)
    await session.flush()
    return list(suggestions)
