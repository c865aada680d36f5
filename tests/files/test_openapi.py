"""The OpenAPI document describes the upload body and its answers."""

from __future__ import annotations

import httpx


async def test_openapi_declares_multipart_upload_and_error_answers(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()

    operation = spec["paths"]["/api/files/upload"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert {"200", "400", "401", "500"} <= set(operation["responses"])
    ok_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok_schema["$ref"].endswith("/UploadResult")
    props = spec["components"]["schemas"]["UploadResult"]["properties"]
    assert set(props) == {"url", "downloadUrl", "pathname", "contentType", "contentDisposition"}
    served = spec["paths"]["/api/files/{pathname}"]["get"]["responses"]
    assert {"image/png", "image/jpeg"} <= set(served["200"]["content"])
