"""Helpers of the documents tests: suggestions written straight to the database, ISO checks."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI

from chatbot_api.db.types import utcnow
from chatbot_api.documents.models import Document, Suggestion
from tests.factories import TestUser

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def make_suggestion(
    app: FastAPI,
    user: TestUser,
    document: Document,
    *,
    original_text: str = "teh",
    suggested_text: str = "the",
    description: str | None = "Fix the typo.",
) -> Suggestion:
    suggestion = Suggestion(
        id=uuid.uuid4(),
        document_id=document.id,
        document_created_at=document.created_at,
        original_text=original_text,
        suggested_text=suggested_text,
        description=description,
        is_resolved=False,
        user_id=user.id,
        created_at=utcnow(),
    )
    async with app.state.session_factory() as session:
        session.add(suggestion)
        await session.commit()
    return suggestion
