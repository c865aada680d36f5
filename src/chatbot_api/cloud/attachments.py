"""Attachments: signed, expiring upload URLs of this service, the PUT that stores the bytes on
the configured storage backend, and the stable public URL that serves (or redirects to) them."""

from __future__ import annotations

import hashlib
import hmac
import re
import stat
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.cloud import repository as repo
from chatbot_api.cloud.errors import (
    AttachmentNotFound,
    CloudBadRequest,
    CloudForbidden,
    StorageUnavailable,
)
from chatbot_api.cloud.models import CloudAttachment
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import AppError
from chatbot_api.db.types import iso_ms, utcnow
from chatbot_api.files.local import LocalStorage
from chatbot_api.files.service import safe_pathname
from chatbot_api.files.storage import Storage, StorageError

log = structlog.get_logger("chatbot_api.cloud.attachments")

ROUTE = "/v1/files/attachments/"
TOKEN_USE = "cloud_upload"
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "audio/mpeg",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/webm",
    }
)


class AlreadyUploaded(AppError):
    code = "conflict:attachment"


@dataclass(frozen=True, slots=True)
class UploadUrl:
    signed_url: str
    public_url: str
    expires_at: str
    key: str


@dataclass(frozen=True, slots=True)
class ServedAttachment:
    """Either a local file to send or a remote URL to redirect to."""

    content_type: str
    filename: str
    inline: bool
    path: Path | None = None
    url: str | None = None


def media_type(header: str | None) -> str:
    """The upload's declared type without parameters, or application/octet-stream."""
    value = (header or "").split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"


def _token_secret(settings: Settings) -> str:
    """A key for upload URLs only, derived from the JWT secret (no token works as the other)."""
    digest = hmac.new(settings.jwt_secret.encode(), b"assistant-cloud-upload", hashlib.sha256)
    return digest.hexdigest()


class AttachmentService:
    """Upload URLs and stored attachments (no commit)."""

    def __init__(self, session: AsyncSession, settings: Settings, storage: Storage) -> None:
        self.session = session
        self.settings = settings
        self.storage = storage

    async def upload_url(self, user_id: uuid.UUID, filename: str, base_url: str) -> UploadUrl:
        match = _EXTENSION.search(filename)
        key = safe_pathname(filename, match.group(1).lower() if match else "bin")
        now = utcnow()
        expires = now + timedelta(seconds=self.settings.assistant_cloud_upload_url_expire_seconds)
        row = CloudAttachment(key=key, user_id=user_id, filename=filename[:255], created_at=now)
        await repo.add(self.session, row)
        claims = {"use": TOKEN_USE, "key": key, "exp": int(expires.timestamp())}
        token = jwt.encode(claims, _token_secret(self.settings), algorithm="HS256")
        public_url = f"{base_url.rstrip('/')}{ROUTE}{key}"
        return UploadUrl(f"{public_url}?token={token}", public_url, iso_ms(expires), key)

    def check_upload_token(self, key: str, token: str) -> None:
        try:
            claims = jwt.decode(token, _token_secret(self.settings), algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise CloudForbidden("The upload URL is invalid or has expired") from exc
        if claims.get("use") != TOKEN_USE or claims.get("key") != key:
            raise CloudForbidden("The upload URL is invalid or has expired")

    async def store(self, key: str, data: bytes, content_type: str) -> None:
        row = await repo.get_attachment(self.session, key)
        if row is None:
            raise AttachmentNotFound()
        if row.uploaded_at is not None:
            raise AlreadyUploaded("This upload URL has already been used")
        if not data:
            raise CloudBadRequest("The body is empty: PUT the file's bytes")
        try:
            stored = await self.storage.put(key, data, content_type)
        except StorageError as exc:
            log.warning("attachment upload failed", backend=self.storage.name, error=str(exc))
            raise StorageUnavailable("The file could not be stored; try again") from exc
        row.content_type, row.size, row.url = content_type, len(data), stored.url
        row.uploaded_at = utcnow()
        await self.session.flush()

    async def served(self, key: str) -> ServedAttachment:
        row = await repo.get_attachment(self.session, key)
        if row is None or row.uploaded_at is None or row.content_type is None:
            raise AttachmentNotFound()
        inline = row.content_type in INLINE_TYPES
        content_type = row.content_type if inline else "application/octet-stream"
        if isinstance(self.storage, LocalStorage):
            path = self.storage.root / key
            if not _is_regular_file(path):
                raise AttachmentNotFound()
            return ServedAttachment(content_type, row.filename, inline, path=path)
        return ServedAttachment(content_type, row.filename, inline, url=row.url)

    async def download_url(
        self, user_id: uuid.UUID, key: str | None, url: str | None, base_url: str
    ) -> UploadUrl:
        key = key or (url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] if url else None)
        row = await repo.get_attachment(self.session, key) if key else None
        if row is None or row.user_id != user_id or row.uploaded_at is None:
            raise AttachmentNotFound()
        public_url = f"{base_url.rstrip('/')}{ROUTE}{row.key}"
        expires = utcnow() + timedelta(
            seconds=self.settings.assistant_cloud_upload_url_expire_seconds
        )
        return UploadUrl(public_url, public_url, iso_ms(expires), row.key)


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
