"""`GET /api/suggestions`: inputs, auth, ownership judged by the document's owner."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from chatbot_api.db.types import iso_ms, utcnow
from tests.documents.conftest import ISO_MS, make_suggestion
from tests.factories import make_document, make_user


async def test_get_suggestions_returns_every_version_suggestions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    start = utcnow() - timedelta(minutes=1)
    v1 = await make_document(app, ada, created_at=start)
    v2 = await make_document(app, ada, doc_id=v1.id, created_at=start + timedelta(seconds=1))
    first = await make_suggestion(app, ada, v1, description=None)
    await make_suggestion(app, ada, v2, original_text="colour", suggested_text="color")
    response = await client.get(f"/api/suggestions?documentId={v1.id}", headers=ada.headers)
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 2
    assert body[0] == {
        "id": str(first.id),
        "documentId": str(v1.id),
        "documentCreatedAt": iso_ms(v1.created_at),
        "originalText": "teh",
        "suggestedText": "the",
        "description": None,
        "isResolved": False,
        "userId": str(ada.id),
        "createdAt": iso_ms(first.created_at),
    }
    assert {s["documentCreatedAt"] for s in body} == {iso_ms(v1.created_at), iso_ms(v2.created_at)}
    assert all(ISO_MS.match(s["createdAt"]) for s in body)


async def test_get_suggestions_without_any_is_empty(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    document = await make_document(app, ada)
    for doc_id in (document.id, uuid.uuid4()):
        response = await client.get(f"/api/suggestions?documentId={doc_id}", headers=ada.headers)
        assert response.status_code == 200
        assert response.json() == []


async def test_get_suggestions_without_document_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/suggestions")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"] == "Parameter documentId is required."


async def test_get_suggestions_with_non_uuid_is_400_naming_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    response = await client.get("/api/suggestions?documentId=abc", headers=ada.headers)
    assert response.status_code == 400
    assert response.json()["cause"] == "Parameter documentId must be a UUID."


async def test_get_suggestions_without_user_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/suggestions?documentId={uuid.uuid4()}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:suggestions"


async def test_get_suggestions_of_another_users_document_is_403_without_data(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    document = await make_document(app, ada)
    # Even a suggestion Babbage wrote himself does not open Ada's document to him.
    await make_suggestion(app, babbage, document, suggested_text="Babbage's idea")
    await make_suggestion(app, ada, document, suggested_text="Ada's idea")
    response = await client.get(
        f"/api/suggestions?documentId={document.id}", headers=babbage.headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:api"
    assert "idea" not in response.text


async def test_get_suggestions_of_another_users_document_without_any_is_403(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    document = await make_document(app, ada)
    response = await client.get(
        f"/api/suggestions?documentId={document.id}", headers=babbage.headers
    )
    assert response.status_code == 403
