"""Uploads on the S3-compatible (moto server) and Vercel Blob (local stand-in) backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import make_user
from tests.files.conftest import (
    BLOB_TOKEN,
    S3_BUCKET,
    S3_CREDENTIALS,
    FakeBlobApi,
    jpeg_bytes,
    png_bytes,
)

IMAGES = pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [(png_bytes(), "cat.png", "image/png"), (jpeg_bytes(), "dog.jpg", "image/jpeg")],
    ids=["png", "jpeg"],
)


async def upload(app: FastAPI, client: httpx.AsyncClient, data: bytes, name: str) -> httpx.Response:
    user = await make_user(app)
    files = {"file": (name, data, "image/png")}
    return await client.post("/api/files/upload", headers=user.headers, files=files)


class TestS3:
    @pytest.fixture
    def settings_overrides(self, s3_endpoint: str) -> dict[str, Any]:
        return {
            "storage_backend": "s3",
            "s3_endpoint_url": s3_endpoint,
            "s3_bucket": S3_BUCKET,
            "s3_access_key_id": S3_CREDENTIALS["aws_access_key_id"],
            "s3_secret_access_key": S3_CREDENTIALS["aws_secret_access_key"],
        }

    @IMAGES
    async def test_upload_to_s3_stores_object_with_content_type(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        s3_endpoint: str,
        data: bytes,
        name: str,
        content_type: str,
    ) -> None:
        import boto3

        response = await upload(app, client, data, name)

        assert response.status_code == 200
        body = response.json()
        assert body["contentType"] == content_type
        assert body["url"] == f"{s3_endpoint}/{S3_BUCKET}/{body['pathname']}"
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **S3_CREDENTIALS)
        stored = s3.get_object(Bucket=S3_BUCKET, Key=body["pathname"])
        assert stored["Body"].read() == data
        assert stored["ContentType"] == content_type
        async with httpx.AsyncClient() as http:
            fetched = await http.get(body["url"])
        assert fetched.content == data
        assert fetched.headers["content-type"] == content_type

    async def test_read_on_s3_backend_is_not_served_locally(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        pathname = (await upload(app, client, png_bytes(), "a.png")).json()["pathname"]

        response = await client.get(f"/api/files/{pathname}")

        assert response.status_code == 404


class TestS3Unreachable:
    @pytest.fixture
    def settings_overrides(self, s3_endpoint: str) -> dict[str, Any]:
        return {
            "storage_backend": "s3",
            "s3_endpoint_url": s3_endpoint,
            "s3_bucket": "no-such-bucket",
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
        }

    async def test_upload_to_missing_bucket_answers_upload_failed(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        response = await upload(app, client, png_bytes(), "a.png")

        assert response.status_code == 500
        assert response.json() == {"error": "Upload failed"}


class TestVercelBlob:
    @pytest.fixture
    def settings_overrides(self, blob_api: FakeBlobApi) -> dict[str, Any]:
        return {"blob_read_write_token": BLOB_TOKEN, "blob_api_url": blob_api.base_url}

    @IMAGES
    async def test_upload_to_blob_puts_with_token_and_returns_its_result(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        blob_api: FakeBlobApi,
        data: bytes,
        name: str,
        content_type: str,
    ) -> None:
        response = await upload(app, client, data, name)

        assert response.status_code == 200
        body = response.json()
        assert body["pathname"].startswith(name.split(".")[0] + "-")
        assert body["url"] == f"{blob_api.base_url}/{body['pathname']}"
        assert body["downloadUrl"] == f"{body['url']}?download=1"
        assert body["contentType"] == content_type
        assert blob_api.objects[body["pathname"]] == (data, content_type)
        (put,) = blob_api.puts
        assert put["headers"]["authorization"] == f"Bearer {BLOB_TOKEN}"
        assert put["headers"]["x-content-type"] == content_type
        assert put["headers"]["x-add-random-suffix"] == "0"
        assert put["headers"]["x-vercel-blob-store-id"] == "TestStore123"
        async with httpx.AsyncClient() as http:
            fetched = await http.get(body["url"])
        assert fetched.content == data

    async def test_upload_when_blob_api_is_down_answers_upload_failed(
        self, app: FastAPI, client: httpx.AsyncClient, blob_api: FakeBlobApi
    ) -> None:
        blob_api.fail_with = 503

        response = await upload(app, client, png_bytes(), "a.png")

        assert response.status_code == 500
        assert response.json() == {"error": "Upload failed"}
        assert len(blob_api.puts) == 3  # retried like the official client


class TestVercelBlobWrongToken:
    @pytest.fixture
    def settings_overrides(self, blob_api: FakeBlobApi) -> dict[str, Any]:
        return {
            "blob_read_write_token": "vercel_blob_rw_Other_nope",
            "blob_api_url": blob_api.base_url,
        }

    async def test_upload_with_rejected_token_answers_upload_failed_without_retry(
        self, app: FastAPI, client: httpx.AsyncClient, blob_api: FakeBlobApi
    ) -> None:
        response = await upload(app, client, png_bytes(), "a.png")

        assert response.status_code == 500
        assert response.json() == {"error": "Upload failed"}
        assert len(blob_api.puts) == 1
        assert blob_api.objects == {}
