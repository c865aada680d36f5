"""POST /api/files/upload on the default local backend: the contract's rules and limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from chatbot_api.files.service import SAFE_PATHNAME
from tests.factories import make_user
from tests.files.conftest import MIB, jpeg_bytes, png_bytes

UPLOAD = "/api/files/upload"


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    filename: str = "photo.png",
    content_type: str = "image/png",
) -> httpx.Response:
    files = {"file": (filename, data, content_type)}
    return await client.post(UPLOAD, headers=headers, files=files)


async def test_upload_png_returns_public_url_and_stores_file(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await make_user(app)
    image = png_bytes()

    response = await upload(client, user.headers, image, filename="cat.png")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "downloadUrl", "pathname", "contentType", "contentDisposition"}
    assert body["contentType"] == "image/png"
    assert body["pathname"].startswith("cat-")
    assert body["pathname"].endswith(".png")
    assert SAFE_PATHNAME.fullmatch(body["pathname"])
    assert body["url"] == f"http://testserver/api/files/{body['pathname']}"
    assert body["contentDisposition"] == f'inline; filename="{body["pathname"]}"'
    assert (settings.upload_dir / body["pathname"]).read_bytes() == image


async def test_upload_jpeg_declared_as_octet_stream_is_detected_as_jpeg(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)

    response = await upload(
        client, user.headers, jpeg_bytes(), filename="me.jpeg", content_type="application/x-foo"
    )

    assert response.status_code == 200
    assert response.json()["contentType"] == "image/jpeg"
    assert response.json()["pathname"].endswith(".jpg")


async def test_upload_same_name_twice_gets_distinct_pathnames(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)

    first = await upload(client, user.headers, png_bytes())
    second = await upload(client, user.headers, png_bytes())

    assert first.json()["pathname"] != second.json()["pathname"]


async def test_upload_exactly_5mib_is_accepted(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_user(app)

    response = await upload(client, user.headers, png_bytes(5 * MIB))

    assert response.status_code == 200


async def test_upload_5mib_plus_one_byte_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await make_user(app)

    response = await upload(client, user.headers, png_bytes(5 * MIB + 1))

    assert response.status_code == 400
    assert response.json() == {"error": "File size should be less than 5MB"}
    assert not settings.upload_dir.exists() or not any(settings.upload_dir.iterdir())


async def test_upload_oversized_non_image_reports_both_failures(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)

    response = await upload(client, user.headers, b"%PDF-1.7" + b"x" * (5 * MIB))

    assert response.status_code == 400
    assert response.json() == {
        "error": "File size should be less than 5MB, File type should be JPEG or PNG"
    }


async def test_upload_endless_stream_is_cut_off_near_the_limit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    sent = 0
    boundary = "cutoff-boundary"

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        yield head + png_bytes()
        while sent < 50 * MIB:
            sent += 64 * 1024
            yield b"\x00" * (64 * 1024)

    headers = {**user.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = await client.post(UPLOAD, headers=headers, content=endless())

    assert response.status_code == 400
    assert response.json() == {"error": "File size should be less than 5MB"}
    assert sent < 6 * MIB


async def test_upload_declared_content_length_over_limit_is_rejected_unread(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    headers = {
        **user.headers,
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(20 * MIB),
    }

    response = await client.post(UPLOAD, headers=headers, content=b"--x\r\n")

    assert response.status_code == 400
    assert response.json() == {"error": "File size should be less than 5MB"}


@pytest.mark.parametrize(
    "data",
    [b"GIF89a" + b"\x00" * 64, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"", b"\x89PNG"],
    ids=["gif", "svg", "empty", "truncated-png-signature"],
)
async def test_upload_non_image_declared_png_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, data: bytes
) -> None:
    user = await make_user(app)

    response = await upload(client, user.headers, data, content_type="image/png")

    assert response.status_code == 400
    assert response.json() == {"error": "File type should be JPEG or PNG"}


async def test_upload_without_file_field_is_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)

    response = await client.post(
        UPLOAD, headers=user.headers, files={"other": ("a.png", png_bytes(), "image/png")}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "No file uploaded"}


async def test_upload_text_value_as_file_is_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)

    response = await client.post(
        UPLOAD, headers=user.headers, data={"file": "hello"}, files={"x": ("x", b"", "text/plain")}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Input not instance of Blob"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}],
    ids=["no-credentials", "invalid-token"],
)
async def test_upload_unauthenticated_is_rejected(
    client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]
) -> None:
    response = await upload(client, headers, png_bytes())

    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert not settings.upload_dir.exists() or not any(settings.upload_dir.iterdir())


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/json", b'{"file": "x"}'),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=x", b"garbage without any boundary"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="file"'),
    ],
    ids=["json", "no-boundary", "no-parts", "truncated"],
)
async def test_upload_unreadable_form_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, content_type: str, content: bytes
) -> None:
    user = await make_user(app)
    headers = {**user.headers, "Content-Type": content_type}

    response = await client.post(UPLOAD, headers=headers, content=content)

    assert response.status_code == 400
    assert response.json() == {"error": "Failed to process request"}


async def test_upload_empty_body_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_user(app)
    headers = {**user.headers, "Content-Type": "multipart/form-data; boundary=x"}

    response = await client.post(UPLOAD, headers=headers, content=b"")

    assert response.status_code == 400
    assert response.json() == {"error": "Request body is empty"}


@pytest.mark.parametrize(
    ("filename", "prefix"),
    [
        ("../../etc/passwd.png", "passwd-"),
        ("C:\\Users\\me\\My Photo (1).png", "My_Photo_1-"),
        ("/abs/path/.hidden.png", "hidden-"),
        ("фото.png", "upload-"),
        ("..", "upload-"),
        ("x" * 500 + ".png", "x" * 64 + "-"),
    ],
)
async def test_upload_user_filename_never_reaches_the_filesystem(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, filename: str, prefix: str
) -> None:
    user = await make_user(app)

    response = await upload(client, user.headers, png_bytes(), filename=filename)

    assert response.status_code == 200
    pathname = response.json()["pathname"]
    assert pathname.startswith(prefix)
    assert SAFE_PATHNAME.fullmatch(pathname)
    assert [p.name for p in settings.upload_dir.iterdir()] == [pathname]


class TestStorageFailure:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the upload directory should be")
        return {"local_storage_dir": blocker}

    async def test_upload_when_storage_fails_answers_upload_failed(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await make_user(app)

        response = await upload(client, user.headers, png_bytes())

        assert response.status_code == 500
        assert response.json() == {"error": "Upload failed"}


class TestPublicBaseUrl:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"public_base_url": "https://chat.example.com/"}

    async def test_upload_urls_use_the_configured_public_base_url(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await make_user(app)

        response = await upload(client, user.headers, png_bytes())

        body = response.json()
        assert body["url"] == f"https://chat.example.com/api/files/{body['pathname']}"
        assert body["downloadUrl"] == body["url"] + "?download=1"
