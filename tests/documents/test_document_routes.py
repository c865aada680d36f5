"""`/api/document`: read, save and revert versions — inputs, auth, ownership, timestamps."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.db.types import iso_ms, utcnow
from tests.documents.conftest import ISO_MS, make_suggestion
from tests.factories import make_document, make_user

DRAFT = {"title": "Notes", "content": "Hello", "kind": "text"}


async def test_get_document_returns_all_versions_oldest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    start = utcnow() - timedelta(minutes=5)
    first = await make_document(app, ada, content="v1", created_at=start)
    await make_document(
        app, ada, doc_id=first.id, content="v2", created_at=start + timedelta(seconds=1)
    )
    response = await client.get(f"/api/document?id={first.id}", headers=ada.headers)
    assert response.status_code == 200
    body = response.json()
    assert [v["content"] for v in body] == ["v1", "v2"]
    assert body[0] == {
        "id": str(first.id),
        "createdAt": iso_ms(start),
        "title": "A document",
        "content": "v1",
        "kind": "text",
        "userId": str(ada.id),
    }
    assert all(ISO_MS.match(v["createdAt"]) for v in body)


async def test_get_document_without_id_is_400_before_auth(client: httpx.AsyncClient) -> None:
    for url in ("/api/document", "/api/document?id="):
        response = await client.get(url)
        assert response.status_code == 400
        assert response.json()["code"] == "bad_request:api"
        assert response.json()["cause"] == "Parameter id is missing"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_document_route_with_non_uuid_id_is_400_naming_it(
    app: FastAPI, client: httpx.AsyncClient, method: str
) -> None:
    ada = await make_user(app)
    response = await client.request(
        method,
        "/api/document?id=not-a-uuid&timestamp=2026-01-15T16:06:42.123Z",
        headers=ada.headers,
        json=DRAFT if method == "POST" else None,
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request:api",
        "message": "The request couldn't be processed. Please check your input and try again.",
        "cause": "Parameter id must be a UUID.",
    }


async def test_get_document_without_user_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await make_user(app)
    document = await make_document(app, ada)
    response = await client.get(f"/api/document?id={document.id}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:document"
    assert "content" not in response.text


async def test_get_document_unknown_is_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await make_user(app)
    response = await client.get(f"/api/document?id={uuid.uuid4()}", headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found:document"


async def test_get_document_of_another_user_is_403_without_data(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    document = await make_document(app, ada, content="Ada's secret")
    response = await client.get(f"/api/document?id={document.id}", headers=babbage.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:document"
    assert "Ada's secret" not in response.text


async def test_get_document_ownership_follows_oldest_version(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    start = utcnow() - timedelta(minutes=1)
    first = await make_document(app, ada, created_at=start)
    await make_document(app, babbage, doc_id=first.id, created_at=start + timedelta(seconds=1))
    assert (
        await client.get(f"/api/document?id={first.id}", headers=ada.headers)
    ).status_code == 200
    response = await client.get(f"/api/document?id={first.id}", headers=babbage.headers)
    assert response.status_code == 403


async def test_save_document_accepts_text_plain_json(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    doc_id = uuid.uuid4()
    response = await client.post(
        f"/api/document?id={doc_id}",
        content=b'{"title":"Plain","content":"Sent as text/plain","kind":"code"}',
        headers={**ada.headers, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 200
    [saved] = response.json()
    assert saved["id"] == str(doc_id)
    assert saved["kind"] == "code"
    assert saved["userId"] == str(ada.id)
    assert ISO_MS.match(saved["createdAt"])


async def test_save_document_twice_in_same_ms_keeps_both_versions_ordered(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    future = utcnow() + timedelta(seconds=30)
    existing = await make_document(app, ada, created_at=future)
    url = f"/api/document?id={existing.id}"
    first = await client.post(url, json=DRAFT, headers=ada.headers)
    second = await client.post(url, json=DRAFT, headers=ada.headers)
    assert first.status_code == second.status_code == 200
    assert first.json()[0]["createdAt"] == iso_ms(future + timedelta(milliseconds=1))
    assert second.json()[0]["createdAt"] == iso_ms(future + timedelta(milliseconds=2))
    versions = (await client.get(url, headers=ada.headers)).json()
    assert len(versions) == 3


async def test_save_document_without_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/document", json=DRAFT)
    assert response.status_code == 400
    assert response.json()["cause"] == "Parameter id is required."


async def test_save_document_without_user_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/api/document?id={uuid.uuid4()}", json=DRAFT)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:document"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "x", "kind": "text"}, "body.title"),
        ({**DRAFT, "title": ""}, "body.title"),
        ({**DRAFT, "title": "t" * 257}, "body.title"),
        ({**DRAFT, "kind": "video"}, "body.kind"),
        ({**DRAFT, "content": 42}, "body.content"),
        ({**DRAFT, "content": "x" * 1_000_001}, "body.content"),
    ],
)
async def test_save_document_with_invalid_body_is_400_naming_field(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    ada = await make_user(app)
    doc_id = uuid.uuid4()
    response = await client.post(f"/api/document?id={doc_id}", json=body, headers=ada.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"].startswith(field)
    missing = await client.get(f"/api/document?id={doc_id}", headers=ada.headers)
    assert missing.status_code == 404


async def test_save_document_with_malformed_json_is_400(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    response = await client.post(
        f"/api/document?id={uuid.uuid4()}",
        content=b"{not json",
        headers={**ada.headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"


async def test_save_document_accepts_null_content(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await make_user(app)
    response = await client.post(
        f"/api/document?id={uuid.uuid4()}",
        json={"title": "Image", "content": None, "kind": "image"},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert response.json()[0]["content"] is None


async def test_revert_document_removes_later_versions_and_their_suggestions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    start = utcnow() - timedelta(minutes=1)
    v1 = await make_document(app, ada, content="v1", created_at=start)
    v2 = await make_document(
        app, ada, doc_id=v1.id, content="v2", created_at=start + timedelta(seconds=1)
    )
    v3 = await make_document(
        app, ada, doc_id=v1.id, content="v3", created_at=start + timedelta(seconds=2)
    )
    kept = await make_suggestion(app, ada, v1)
    await make_suggestion(app, ada, v2)
    await make_suggestion(app, ada, v3)
    response = await client.delete(
        "/api/document",
        params={"id": str(v1.id), "timestamp": iso_ms(v1.created_at)},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert [v["content"] for v in response.json()] == ["v2", "v3"]
    remaining = (await client.get(f"/api/document?id={v1.id}", headers=ada.headers)).json()
    assert [v["content"] for v in remaining] == ["v1"]
    suggestions = await client.get(f"/api/suggestions?documentId={v1.id}", headers=ada.headers)
    assert [s["id"] for s in suggestions.json()] == [str(kept.id)]


async def test_revert_document_at_latest_version_deletes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    document = await make_document(app, ada)
    response = await client.delete(
        "/api/document",
        params={"id": str(document.id), "timestamp": iso_ms(document.created_at)},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert response.json() == []


async def test_revert_document_accepts_js_date_string(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    start = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    v1 = await make_document(app, ada, created_at=start)
    await make_document(app, ada, doc_id=v1.id, created_at=start + timedelta(seconds=1))
    js_string = start.strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    # The client does not URL-encode it: its `+` arrives as a space.
    response = await client.delete(
        f"/api/document?id={v1.id}&timestamp={js_string}", headers=ada.headers
    )
    assert response.status_code == 200
    assert len(response.json()) == 1


@pytest.mark.parametrize(
    ("query", "cause"),
    [
        ("timestamp=2026-01-15T16:06:42.123Z", "Parameter id is required."),
        ("id={id}", "Parameter timestamp is required."),
        ("id={id}&timestamp=", "Parameter timestamp is required."),
    ],
)
async def test_revert_document_missing_parameter_is_400(
    client: httpx.AsyncClient, query: str, cause: str
) -> None:
    response = await client.delete("/api/document?" + query.format(id=uuid.uuid4()))
    assert response.status_code == 400
    assert response.json()["cause"] == cause


async def test_revert_document_unparsable_timestamp_is_400(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada = await make_user(app)
    document = await make_document(app, ada)
    response = await client.delete(
        f"/api/document?id={document.id}&timestamp=yesterday", headers=ada.headers
    )
    assert response.status_code == 400
    assert "timestamp" in response.json()["cause"]


async def test_revert_document_without_user_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await make_user(app)
    document = await make_document(app, ada)
    response = await client.delete(
        "/api/document", params={"id": str(document.id), "timestamp": iso_ms(document.created_at)}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:document"


async def test_revert_document_unknown_is_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await make_user(app)
    response = await client.delete(
        "/api/document",
        params={"id": str(uuid.uuid4()), "timestamp": "2026-01-15T16:06:42.123Z"},
        headers=ada.headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found:document"


async def test_revert_document_of_another_user_is_403_and_keeps_versions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ada, babbage = await make_user(app), await make_user(app)
    start = utcnow() - timedelta(minutes=1)
    v1 = await make_document(app, ada, created_at=start)
    await make_document(
        app, ada, doc_id=v1.id, content="later", created_at=start + timedelta(seconds=1)
    )
    response = await client.delete(
        "/api/document",
        params={"id": str(v1.id), "timestamp": iso_ms(start)},
        headers=babbage.headers,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:document"
    assert "later" not in response.text
    versions = (await client.get(f"/api/document?id={v1.id}", headers=ada.headers)).json()
    assert len(versions) == 2
