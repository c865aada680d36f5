"""Vercel Blob storage over its HTTP API (what `@vercel/blob`'s `put` sends), via httpx."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from chatbot_api.files.storage import LocalFile, StorageError, StoredObject

log = structlog.get_logger("chatbot_api.files.blob")

API_VERSION = "12"
CACHE_MAX_AGE_SECONDS = 60 * 60 * 24 * 365  # names are unique: cache for a year
ATTEMPTS = 3
RETRY_BASE_DELAY = 0.2


class BlobPutResult(BaseModel):
    """The JSON body of a successful `PUT /?pathname=…`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    url: str
    download_url: str
    pathname: str
    content_type: str
    content_disposition: str


class VercelBlobStorage:
    """Public blobs; our pathnames already carry a random suffix, so the API adds none."""

    name = "vercel_blob"

    def __init__(self, http: httpx.AsyncClient, *, token: str, api_url: str) -> None:
        self.http = http
        self.token = token
        self.api_url = api_url.rstrip("/")
        # read-write tokens look like `vercel_blob_rw_<storeId>_<secret>`
        parts = token.split("_")
        self.store_id = parts[3] if len(parts) > 4 else ""

    def _headers(
        self, content_type: str, size: int, attempt: int, request_id: str
    ) -> dict[str, str]:
        headers = {
            "authorization": f"Bearer {self.token}",
            "x-api-version": API_VERSION,
            "x-api-blob-request-id": request_id,
            "x-api-blob-request-attempt": str(attempt),
            "x-vercel-blob-access": "public",
            "x-content-type": content_type,
            "x-content-length": str(size),
            "x-add-random-suffix": "0",
            "x-allow-overwrite": "0",
            "x-cache-control-max-age": str(CACHE_MAX_AGE_SECONDS),
        }
        if self.store_id:
            headers["x-vercel-blob-store-id"] = self.store_id
        return headers

    async def put(self, pathname: str, data: bytes, content_type: str) -> StoredObject:
        request_id = f"{self.store_id}:{int(time.time() * 1000)}:{secrets.token_hex(6)}"
        response = await self._send(pathname, data, content_type, request_id)
        if not response.is_success:
            raise StorageError(
                f"Vercel Blob answered {response.status_code}: {_error_code(response)}"
            )
        try:
            result = BlobPutResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise StorageError(f"Vercel Blob answered an unexpected body: {exc}") from exc
        return StoredObject(
            url=result.url,
            download_url=result.download_url,
            pathname=result.pathname,
            content_type=result.content_type,
            content_disposition=result.content_disposition,
        )

    async def _send(
        self, pathname: str, data: bytes, content_type: str, request_id: str
    ) -> httpx.Response:
        """PUT with retries on network errors and 5xx answers (as the official client does)."""
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_BASE_DELAY * 2 ** (attempt - 1))
            try:
                response = await self.http.put(
                    f"{self.api_url}/",
                    params={"pathname": pathname},
                    content=data,
                    headers=self._headers(content_type, len(data), attempt, request_id),
                )
            except httpx.HTTPError as exc:
                log.warning("vercel blob put failed", attempt=attempt, error=str(exc))
                if attempt == ATTEMPTS - 1:
                    raise StorageError(f"Vercel Blob unreachable: {exc}") from exc
                continue
            if response.status_code < 500 or attempt == ATTEMPTS - 1:
                return response
            log.warning("vercel blob put failed", attempt=attempt, status=response.status_code)
        raise StorageError("unreachable")  # pragma: no cover

    async def open(self, pathname: str) -> LocalFile | None:
        return None

    async def read(self, url: str) -> bytes | None:
        """A URL on this store's public host (`<store id>.public.blob.vercel-storage.com`)."""
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return None
        if not self.store_id or host != f"{self.store_id.lower()}.public.blob.vercel-storage.com":
            return None
        try:
            response = await self.http.get(url)
        except httpx.HTTPError as exc:
            raise StorageError(f"Vercel Blob unreachable: {exc}") from exc
        if not response.is_success:
            raise StorageError(f"Vercel Blob answered {response.status_code} for {url}")
        return response.content

    async def aclose(self) -> None:
        return None  # the shared httpx client is closed by the app


def _error_code(response: httpx.Response) -> str:
    """`{"error": {"code", "message"}}` → `code: message`, without echoing large bodies."""
    try:
        error = response.json().get("error") or {}
        return f"{error.get('code', 'unknown_error')}: {str(error.get('message', ''))[:200]}"
    except (ValueError, AttributeError):
        return "unknown_error"
