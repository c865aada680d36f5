"""The storage interface every upload backend implements, and the factory that picks one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from chatbot_api.core.config import ConfigError, Settings


@dataclass(frozen=True, slots=True)
class StoredObject:
    """Where a stored file can be read back; the wire shape of the Vercel Blob put result.

    A `url` starting with `/` is relative to this service (local storage without
    `PUBLIC_BASE_URL`); the HTTP layer makes it absolute with the request's base URL.
    """

    url: str
    download_url: str
    pathname: str
    content_type: str
    content_disposition: str


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A stored file this service serves itself."""

    path: Path
    content_type: str
    size: int


class StorageError(RuntimeError):
    """The backend could not store the file (I/O, network, credentials, remote error)."""


class Storage(Protocol):
    """Stores public files under a pathname chosen by the caller (already safe and unique)."""

    name: str

    async def put(self, pathname: str, data: bytes, content_type: str) -> StoredObject:
        """Store `data`; raises StorageError when the backend fails."""
        ...

    async def open(self, pathname: str) -> LocalFile | None:
        """The local file behind `pathname`, or None (also for remote backends)."""
        ...

    async def read(self, url: str) -> bytes | None:
        """The bytes of the file this backend stored at `url`, or None when `url` is not one
        of its files; raises StorageError when it is but cannot be read."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once on shutdown."""
        ...


def content_disposition(pathname: str, kind: str = "inline") -> str:
    return f'{kind}; filename="{pathname}"'


def create_storage(settings: Settings, http: httpx.AsyncClient) -> Storage:
    """The backend chosen by STORAGE_BACKEND (or auto: Vercel Blob token, S3 bucket, local)."""
    backend = settings.resolved_storage_backend
    if backend == "vercel_blob":
        from chatbot_api.files.blob import VercelBlobStorage

        if settings.blob_read_write_token is None:
            raise ConfigError("STORAGE_BACKEND=vercel_blob needs BLOB_READ_WRITE_TOKEN")
        return VercelBlobStorage(
            http,
            token=settings.blob_read_write_token.get_secret_value(),
            api_url=settings.blob_api_url,
        )
    if backend == "s3":
        from chatbot_api.files.s3 import S3Settings, S3Storage

        if not settings.s3_bucket:
            raise ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return S3Storage(S3Settings.from_settings(settings, settings.s3_bucket))
    from chatbot_api.files.local import LocalStorage

    return LocalStorage(settings.upload_dir, public_base_url=settings.public_base_url)
