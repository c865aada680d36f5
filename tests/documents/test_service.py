"""The service entry points the chat tools use: ownership, versioning, suggestions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.core.errors import AppError, DocumentForbidden, DocumentNotFound
from chatbot_api.db.types import utcnow
from chatbot_api.documents import service
from chatbot_api.documents.schemas import SuggestionDraft
from tests.factories import make_document, make_user


def new_session(app: FastAPI) -> AsyncSession:
    session: AsyncSession = app.state.session_factory()
    return session


async def test_get_latest_version_returns_newest_or_none(app: FastAPI) -> None:
    ada = await make_user(app)
    start = utcnow() - timedelta(minutes=1)
    v1 = await make_document(app, ada, content="v1", created_at=start)
    await make_document(
        app, ada, doc_id=v1.id, content="v2", created_at=start + timedelta(seconds=1)
    )
    async with new_session(app) as session:
        latest = await service.get_latest_version(session, v1.id, ada.id)
        missing = await service.get_latest_version(session, uuid.uuid4(), ada.id)
    assert latest is not None
    assert latest.content == "v2"
    assert missing is None


async def test_get_latest_version_of_another_user_raises_forbidden(app: FastAPI) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    document = await make_document(app, ada)
    async with new_session(app) as session:
        with pytest.raises(DocumentForbidden):
            await service.get_latest_version(session, document.id, babbage.id)


async def test_save_version_by_another_user_raises_forbidden_and_saves_nothing(
    app: FastAPI,
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    document = await make_document(app, ada)
    async with new_session(app) as session:
        with pytest.raises(DocumentForbidden):
            await service.save_version(
                session,
                doc_id=document.id,
                title="x",
                kind="text",
                content="y",
                user_id=babbage.id,
            )
        versions = await service.list_versions(session, document.id, ada.id)
    assert len(versions) == 1


async def test_save_version_with_unknown_kind_is_bad_request(app: FastAPI) -> None:
    ada = await make_user(app)
    async with new_session(app) as session:
        with pytest.raises(AppError) as caught:
            await service.save_version(
                session,
                doc_id=uuid.uuid4(),
                title="x",
                kind="video",
                content=None,
                user_id=ada.id,
            )
    assert caught.value.code == "bad_request:document"
    assert caught.value.status == 400


async def test_save_version_concurrently_keeps_every_version(app: FastAPI) -> None:
    ada = await make_user(app)
    doc_id = uuid.uuid4()

    async def save(n: int) -> None:
        async with new_session(app) as session:
            await service.save_version(
                session, doc_id=doc_id, title="t", kind="text", content=str(n), user_id=ada.id
            )
            await session.commit()

    await asyncio.gather(*(save(n) for n in range(5)))
    async with new_session(app) as session:
        versions = await service.list_versions(session, doc_id, ada.id)
    stamps = [v.created_at for v in versions]
    assert len(stamps) == 5
    assert stamps == sorted(set(stamps))


async def test_save_suggestions_attaches_to_version(app: FastAPI) -> None:
    ada = await make_user(app)
    document = await make_document(app, ada)
    drafts = [SuggestionDraft("teh", "the", "Typo"), SuggestionDraft("a", "b")]
    async with new_session(app) as session:
        saved = await service.save_suggestions(
            session, document=document, suggestions=drafts, user_id=ada.id
        )
        await session.commit()
        listed = await service.list_suggestions(session, document.id, ada.id)
    assert len(saved) == 2
    assert {s.suggested_text for s in listed} == {"the", "b"}
    assert all(s.document_created_at == document.created_at for s in listed)


async def test_save_suggestions_on_another_users_document_raises_forbidden(
    app: FastAPI,
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    document = await make_document(app, ada)
    async with new_session(app) as session:
        with pytest.raises(DocumentForbidden):
            await service.save_suggestions(
                session,
                document=document,
                suggestions=[SuggestionDraft("a", "b")],
                user_id=babbage.id,
            )
        assert await service.list_suggestions(session, document.id, ada.id) == []


async def test_revert_to_unknown_document_raises_not_found(app: FastAPI) -> None:
    ada = await make_user(app)
    async with new_session(app) as session:
        with pytest.raises(DocumentNotFound):
            await service.revert_to(session, uuid.uuid4(), utcnow(), ada.id)
