"""`/v1/files/attachments`: signed upload URLs, the PUT of the bytes, public reads, limits."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.cloud.conftest import ISO_MS, Pair

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"assistant_cloud_max_attachment_bytes": 1024}


async def presign(client: httpx.AsyncClient, headers: dict[str, str], filename: str) -> Any:
    response = await client.post(
        "/v1/files/attachments/generate-presigned-upload-url",
        json={"filename": filename},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_upload_then_read_back_the_public_url(client: httpx.AsyncClient, users: Pair) -> None:
    signed = await presign(client, users.alice.headers, "photo of me.png")

    put = await client.put(
        path_of(signed["signedUrl"]), content=PNG, headers={"Content-Type": "image/png"}
    )
    read = await client.get(path_of(signed["publicUrl"]))

    assert signed["success"] is True
    assert set(signed) == {"success", "signedUrl", "expiresAt", "publicUrl", "key"}
    assert ISO_MS.fullmatch(signed["expiresAt"])
    assert signed["publicUrl"].startswith("http://testserver/v1/files/attachments/")
    assert signed["key"].startswith("photo_of_me-")
    assert signed["key"].endswith(".png")
    assert put.status_code == 204
    assert read.status_code == 200
    assert read.content == PNG
    assert read.headers["content-type"] == "image/png"
    assert read.headers["x-content-type-options"] == "nosniff"
    assert read.headers["content-disposition"].startswith("inline")


async def test_unsafe_types_are_served_as_downloads(client: httpx.AsyncClient, users: Pair) -> None:
    signed = await presign(client, users.alice.headers, "page.html")
    await client.put(
        path_of(signed["signedUrl"]),
        content=b"<script>1</script>",
        headers={"Content-Type": "text/html"},
    )

    read = await client.get(path_of(signed["publicUrl"]))

    assert read.headers["content-type"] == "application/octet-stream"
    assert read.headers["content-disposition"].startswith("attachment")


async def test_upload_with_a_tampered_or_reused_url_is_refused(
    client: httpx.AsyncClient, users: Pair
) -> None:
    signed = await presign(client, users.alice.headers, "a.png")
    other = await presign(client, users.alice.headers, "b.png")
    token = signed["signedUrl"].split("token=", 1)[1]
    other_path = urlsplit(other["publicUrl"]).path

    swapped = await client.put(f"{other_path}?token={token}", content=PNG)
    garbage = await client.put(f"{other_path}?token=abc", content=PNG)
    first = await client.put(path_of(signed["signedUrl"]), content=PNG)
    again = await client.put(path_of(signed["signedUrl"]), content=PNG)

    assert (swapped.status_code, garbage.status_code) == (403, 403)
    assert (first.status_code, again.status_code) == (204, 409)
    assert (await client.get(other_path)).status_code == 404  # never uploaded


async def test_upload_over_the_limit_is_413_and_empty_is_400(
    client: httpx.AsyncClient, users: Pair
) -> None:
    signed = await presign(client, users.alice.headers, "big.bin")

    big = await client.put(path_of(signed["signedUrl"]), content=b"x" * 1025)
    empty = await client.put(path_of(signed["signedUrl"]), content=b"")

    assert big.status_code == 413
    assert set(big.json()) == {"message", "error"}
    assert empty.status_code == 400


async def test_presign_requires_a_signed_in_user_and_a_filename(
    client: httpx.AsyncClient, users: Pair
) -> None:
    anonymous = await client.post(
        "/v1/files/attachments/generate-presigned-upload-url", json={"filename": "a.png"}
    )
    missing = await client.post(
        "/v1/files/attachments/generate-presigned-upload-url", json={}, headers=users.alice.headers
    )

    assert anonymous.status_code == 401
    assert missing.status_code == 400
    assert "filename" in missing.json()["message"]


async def test_download_url_is_for_the_owner_only(client: httpx.AsyncClient, users: Pair) -> None:
    signed = await presign(client, users.alice.headers, "a.png")
    await client.put(path_of(signed["signedUrl"]), content=PNG)
    route = "/v1/files/attachments/generate-presigned-download-url"

    by_key = await client.post(route, json={"key": signed["key"]}, headers=users.alice.headers)
    by_url = await client.post(
        route, json={"url": signed["publicUrl"]}, headers=users.alice.headers
    )
    by_bob = await client.post(route, json={"key": signed["key"]}, headers=users.bob.headers)

    assert by_key.status_code == 200
    assert by_key.json()["signedUrl"] == signed["publicUrl"]
    assert by_url.json()["key"] == signed["key"]
    assert by_bob.status_code == 404


async def test_unknown_attachment_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/files/attachments/nothing-here.png")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found:attachment"
