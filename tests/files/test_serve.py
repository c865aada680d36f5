"""GET /api/files/{pathname}: local uploads served back safely."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from tests.factories import make_user
from tests.files.conftest import jpeg_bytes, png_bytes


async def uploaded(app: FastAPI, client: httpx.AsyncClient, data: bytes, name: str) -> str:
    user = await make_user(app)
    response = await client.post(
        "/api/files/upload", headers=user.headers, files={"file": (name, data, "image/png")}
    )
    assert response.status_code == 200
    pathname: str = response.json()["pathname"]
    return pathname


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [(png_bytes(), "a.png", "image/png"), (jpeg_bytes(), "b.jpg", "image/jpeg")],
    ids=["png", "jpeg"],
)
async def test_read_uploaded_file_serves_bytes_with_type_and_nosniff(
    app: FastAPI, client: httpx.AsyncClient, data: bytes, name: str, content_type: str
) -> None:
    pathname = await uploaded(app, client, data, name)

    response = await client.get(f"/api/files/{pathname}")

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-disposition"].startswith("inline")


async def test_read_url_returned_by_upload_works_without_auth(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = (
        await client.post(
            "/api/files/upload",
            headers=user.headers,
            files={"file": ("c.png", png_bytes(), "image/png")},
        )
    ).json()

    response = await client.get(body["url"])
    download = await client.get(body["downloadUrl"])

    assert response.content == png_bytes()
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content == png_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "..",
        "%2E%2E",
        "secret.txt",
        "..%5Csecret.txt",
        "x-AAAAAAAAAAAAAAAAAAAAAAAA.png%00.txt",
        "nothing-AAAAAAAAAAAAAAAAAAAAAAAA.png",
        "upload",
    ],
)
async def test_read_outside_or_unknown_name_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    (settings.upload_dir / "secret.txt").write_text("not an upload")
    (settings.upload_dir.parent / "secret.txt").write_text("outside the upload dir")

    response = await client.get(f"/api/files/{path}")

    assert response.status_code == 404
    assert "not an upload" not in response.text
    assert "outside" not in response.text


async def test_read_symlink_planted_in_upload_dir_is_not_followed(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    secret = settings.upload_dir.parent / "outside.png"
    secret.write_bytes(png_bytes())
    link = settings.upload_dir / "evil-AAAAAAAAAAAAAAAAAAAAAAAA.png"
    link.symlink_to(secret)

    response = await client.get(f"/api/files/{link.name}")

    assert response.status_code == 404
