"""The OpenAPI document describes what the service really answers."""

import httpx


async def test_openapi_documents_validation_errors_as_400_envelope(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = [op for methods in schema["paths"].values() for op in methods.values()]
    assert operations
    assert all("422" not in op["responses"] for op in operations)
    assert "ErrorEnvelope" in schema["components"]["schemas"]


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
