"""The historical `/api/document` acceptance flow (contract §9.2, items 1–10) with Ada and
Babbage, through the routes only."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from chatbot_api.core.errors import MESSAGES
from tests.documents.conftest import ISO_MS
from tests.factories import make_user


async def test_document_flow_create_update_revert_and_protect(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada, babbage = await make_user(app), await make_user(app)

    # 1. GET without id.
    response = await client.get("/api/document", headers=ada.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["message"] == MESSAGES["bad_request:api"]

    # 2. GET an unknown id.
    doc_id = str(uuid.uuid4())
    response = await client.get(f"/api/document?id={doc_id}", headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found:document"

    # 3. Ada creates the document (sent as text/plain, like the shipped client).
    draft = {"title": "Ada's Document", "kind": "text", "content": "Created by Ada"}
    response = await client.post(
        f"/api/document?id={doc_id}",
        json=draft,
        headers={**ada.headers, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 200
    [created] = response.json()
    assert {k: created[k] for k in draft} == draft
    assert created["id"] == doc_id
    assert created["userId"] == str(ada.id)
    assert ISO_MS.match(created["createdAt"])

    # 4. GET returns that one version.
    response = await client.get(f"/api/document?id={doc_id}", headers=ada.headers)
    assert response.status_code == 200
    assert response.json() == [created]

    # 5. Ada saves a second version right away (possibly within the same millisecond).
    response = await client.post(
        f"/api/document?id={doc_id}",
        json={**draft, "content": "Updated by Ada"},
        headers=ada.headers,
    )
    assert response.status_code == 200
    [updated] = response.json()
    assert updated["content"] == "Updated by Ada"
    assert updated["createdAt"] > created["createdAt"]

    # 6. GET returns both, in creation order.
    response = await client.get(f"/api/document?id={doc_id}", headers=ada.headers)
    assert response.json() == [created, updated]

    # 7. DELETE without id, then without timestamp.
    response = await client.delete("/api/document", headers=ada.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    response = await client.delete(f"/api/document?id={doc_id}", headers=ada.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"

    # 8. DELETE after the first version's createdAt, exactly as returned.
    response = await client.delete(
        "/api/document",
        params={"id": doc_id, "timestamp": created["createdAt"]},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert response.json() == [updated]

    # 9. Only the first version is left.
    response = await client.get(f"/api/document?id={doc_id}", headers=ada.headers)
    assert response.json() == [created]

    # 10. Babbage cannot write to Ada's document; Ada still has one version.
    response = await client.post(
        f"/api/document?id={doc_id}",
        json={**draft, "content": "By Babbage"},
        headers=babbage.headers,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:document"
    assert response.json()["message"] == MESSAGES["forbidden:document"]
    response = await client.get(f"/api/document?id={doc_id}", headers=ada.headers)
    assert response.json() == [created]
