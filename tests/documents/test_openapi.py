"""The OpenAPI document describes the document and suggestion routes and their errors."""

from __future__ import annotations

import httpx


async def test_openapi_declares_document_routes_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    document, suggestions = spec["paths"]["/api/document"], spec["paths"]["/api/suggestions"]
    for operation in (*document.values(), suggestions["get"]):
        assert {"200", "400", "401", "403"} <= set(operation["responses"])
        error = operation["responses"]["403"]["content"]["application/json"]["schema"]
        assert error["$ref"].endswith("/ErrorEnvelope")
    assert "404" in document["get"]["responses"]
    assert "404" in document["delete"]["responses"]
    body = spec["components"]["schemas"]["DocumentSaveIn"]["properties"]
    assert body["title"]["maxLength"] == 256
    assert body["kind"]["enum"] == ["text", "code", "image", "sheet"]
    version = spec["components"]["schemas"]["DocumentOut"]["properties"]
    assert set(version) == {"id", "createdAt", "title", "content", "kind", "userId"}
