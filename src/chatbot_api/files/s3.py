"""S3-compatible storage (AWS S3, MinIO, R2, …) through aiobotocore; one client, made lazily."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from chatbot_api.core.config import Settings
from chatbot_api.files.storage import LocalFile, StorageError, StoredObject, content_disposition

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class S3Settings:
    bucket: str
    region: str
    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None
    public_base_url: str | None
    path_style: bool

    @classmethod
    def from_settings(cls, settings: Settings, bucket: str) -> S3Settings:
        key_id = settings.s3_access_key_id
        secret = settings.s3_secret_access_key
        return cls(
            bucket=bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url.rstrip("/") if settings.s3_endpoint_url else None,
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            public_base_url=settings.s3_public_base_url,
            path_style=settings.s3_force_path_style,
        )

    def public_url(self, key: str) -> str:
        """The public URL of `key`: the configured base (CDN), else the bucket's own URL."""
        quoted = quote(key)
        if self.public_base_url:
            return f"{self.public_base_url.rstrip('/')}/{quoted}"
        endpoint = self.endpoint_url or f"https://s3.{self.region}.amazonaws.com"
        if self.path_style:
            return f"{endpoint}/{self.bucket}/{quoted}"
        parts = urlsplit(endpoint)
        host = f"{self.bucket}.{parts.netloc}"
        return urlunsplit((parts.scheme, host, f"/{quoted}", "", ""))


class S3Storage:
    """Puts public objects; credentials fall back to the AWS default chain when not set."""

    name = "s3"

    def __init__(self, config: S3Settings) -> None:
        self.config = config
        self._client: S3Client | None = None
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _get_client(self) -> S3Client:
        async with self._lock:
            if self._client is None:
                c = self.config
                session = get_session()
                boto_config = AioConfig(
                    s3={"addressing_style": "path" if c.path_style else "virtual"},
                    connect_timeout=10,
                    read_timeout=30,
                    retries={"max_attempts": 3, "mode": "standard"},
                )
                self._client = await self._stack.enter_async_context(
                    session.create_client(
                        "s3",
                        region_name=c.region,
                        endpoint_url=c.endpoint_url,
                        aws_access_key_id=c.access_key_id,
                        aws_secret_access_key=c.secret_access_key,
                        config=boto_config,
                    )
                )
            return self._client

    async def put(self, pathname: str, data: bytes, content_type: str) -> StoredObject:
        disposition = content_disposition(pathname)
        try:
            client = await self._get_client()
            await client.put_object(
                Bucket=self.config.bucket,
                Key=pathname,
                Body=data,
                ContentType=content_type,
                ContentDisposition=disposition,
                CacheControl=CACHE_CONTROL,
            )
        except (BotoCoreError, ClientError, OSError, TimeoutError) as exc:
            raise StorageError(f"S3 put_object {self.config.bucket}/{pathname}: {exc}") from exc
        url = self.config.public_url(pathname)
        return StoredObject(
            url=url,
            download_url=url,
            pathname=pathname,
            content_type=content_type,
            content_disposition=disposition,
        )

    async def open(self, pathname: str) -> LocalFile | None:
        return None

    async def read(self, url: str) -> bytes | None:
        """A URL under the bucket's public URL (or its CDN's), read with `get_object`."""
        base = self.config.public_url("")
        if not url.startswith(base) or len(url) == len(base):
            return None
        key = unquote(url[len(base) :].split("?", 1)[0])
        try:
            client = await self._get_client()
            answer = await client.get_object(Bucket=self.config.bucket, Key=key)
            async with answer["Body"] as body:
                return await body.read()
        except (BotoCoreError, ClientError, OSError, TimeoutError) as exc:
            raise StorageError(f"S3 get_object {self.config.bucket}/{key}: {exc}") from exc

    async def aclose(self) -> None:
        async with self._lock:
            self._client = None
            await self._stack.aclose()
