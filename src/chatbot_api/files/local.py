"""Local-directory storage: files under UPLOAD_DIR, served back by this service."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chatbot_api.files.storage import LocalFile, StorageError, StoredObject, content_disposition

SERVE_PREFIX = "/api/files/"
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
}


class LocalStorage:
    """Writes each file atomically into one flat directory; never follows a user path."""

    name = "local"

    def __init__(self, root: Path, *, public_base_url: str | None = None) -> None:
        self.root = root
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else ""

    async def put(self, pathname: str, data: bytes, content_type: str) -> StoredObject:
        target = self._inside(pathname)
        if target is None:
            raise StorageError(f"refusing to store outside the upload directory: {pathname!r}")
        try:
            await asyncio.to_thread(self._write, target, data)
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc}") from exc
        url = f"{self.public_base_url}{SERVE_PREFIX}{pathname}"
        return StoredObject(
            url=url,
            download_url=f"{url}?download=1",
            pathname=pathname,
            content_type=content_type,
            content_disposition=content_disposition(pathname),
        )

    async def open(self, pathname: str) -> LocalFile | None:
        target = self._inside(pathname)
        content_type = CONTENT_TYPES.get(Path(pathname).suffix.lower())
        if target is None or content_type is None:
            return None
        size = await asyncio.to_thread(_regular_file_size, target)
        if size is None:
            return None
        return LocalFile(path=target, content_type=content_type, size=size)

    async def read(self, url: str) -> bytes | None:
        """Any URL whose path is `/api/files/<pathname>` (on whatever host the client saw us)
        of a file in the directory; never fetched over HTTP."""
        try:
            path = urlsplit(url).path
        except ValueError:
            return None
        if not path.startswith(SERVE_PREFIX):
            return None
        found = await self.open(unquote(path[len(SERVE_PREFIX) :]))
        if found is None:
            return None
        try:
            return await asyncio.to_thread(found.path.read_bytes)
        except OSError as exc:
            raise StorageError(f"cannot read {found.path}: {exc}") from exc

    async def aclose(self) -> None:
        return None

    def _inside(self, pathname: str) -> Path | None:
        """`root/pathname` when it is a plain name directly inside root, else None."""
        if not pathname or "/" in pathname or "\\" in pathname or "\x00" in pathname:
            return None
        if pathname in (".", "..") or pathname.startswith("."):
            return None
        root = self.root.resolve()
        target = (root / pathname).resolve()
        return target if target.parent == root else None

    def _write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            with temp.open("xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)


def _regular_file_size(path: Path) -> int | None:
    """The size of a regular file (not a symlink, not a directory), or None."""
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None
