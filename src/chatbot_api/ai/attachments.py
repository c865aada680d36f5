"""Files attached to user messages, made ready for a provider: the one rule of which files a
model takes, their bytes read from our storage or a data: URL, text files inlined.

Checked strictly before a turn is admitted (a file the model cannot take is a 400 naming it);
the same rule prepares every step's messages, where a stored file that no longer fits (the
chat switched models, the file is gone) becomes a short note to the model instead.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from urllib.parse import unquote_to_bytes, urlsplit

from chatbot_api.ai.base import (
    ContentPart,
    FilePart,
    ImagePart,
    InputTypes,
    ModelMessage,
    TextPart,
    media_type_matches,
)
from chatbot_api.files.storage import StorageError

# Inlined as text for every provider (besides text/*).
TEXT_APPLICATION_TYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/javascript",
        "application/sql",
        "application/x-ndjson",
    }
)

# Reads the file our storage holds at a URL: its bytes, None when the URL is not ours.
Reader = Callable[[str], Awaitable[bytes | None]]


def is_text_type(media_type: str) -> bool:
    media_type = media_type.lower()
    return media_type.startswith("text/") or media_type in TEXT_APPLICATION_TYPES


class AttachmentRejected(Exception):
    """A file the model cannot be given; `message` names it and says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class AttachmentRules:
    """What the chosen model takes and the caps; `read` resolves our own upload URLs."""

    model_id: str
    input_types: InputTypes
    read: Reader
    text_max_bytes: int
    file_max_bytes: int
    # Our uploads read so far: the turn's check and its first step share one read each.
    _read: dict[str, bytes | None] = field(default_factory=dict, repr=False, compare=False)

    async def prepare(
        self, messages: list[ModelMessage], *, strict: bool = True
    ) -> list[ModelMessage]:
        """The messages with every file part ready for the provider. `strict`: a file that
        cannot be given raises AttachmentRejected; otherwise it becomes a note."""
        out: list[ModelMessage] = []
        for message in messages:
            if message.role != "user" or not any(_is_file(p) for p in message.content):
                out.append(message)
                continue
            content: list[ContentPart] = []
            for part in message.content:
                if not _is_file(part):
                    content.append(part)
                    continue
                try:
                    content.append(await self.prepare_part(part))
                except AttachmentRejected as exc:
                    if strict:
                        raise
                    content.append(TextPart(f"[Attachment not sent: {exc.message}]"))
            out.append(ModelMessage(role="user", content=content))
        return out

    async def prepare_part(self, part: ContentPart) -> ContentPart:
        """One image or file part as the provider gets it."""
        if isinstance(part, ImagePart):
            if not self._takes(part.media_type, part.url):
                by_url = _is_external(part.url)
                raise AttachmentRejected(self._refusal(part.media_type, "an image", by_url=by_url))
            return part
        assert isinstance(part, FilePart)
        url = part.url or ""
        label = f"“{part.filename}”" if part.filename else "a file"
        if is_text_type(part.media_type):
            data = await self._bytes(url, label, self.text_max_bytes)
            if data is None:
                raise AttachmentRejected(
                    f"the text file {label} ({part.media_type}) must be uploaded here or sent "
                    "as a data: URL; other URLs are not fetched"
                )
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise AttachmentRejected(f"the text file {label} is not UTF-8 text") from None
            return TextPart(inline_text(part.filename, part.media_type, text))
        types = self.input_types
        if not media_type_matches(types.data | types.urls, part.media_type):
            raise AttachmentRejected(self._refusal(part.media_type, label, by_url=False))
        data = await self._bytes(url, label, self.file_max_bytes)  # None: an external URL
        if not media_type_matches(types.urls if data is None else types.data, part.media_type):
            raise AttachmentRejected(self._refusal(part.media_type, label, by_url=data is None))
        if data is None:
            return FilePart(part.media_type, part.filename, url=url)
        return FilePart(part.media_type, part.filename, data=data)

    def _takes(self, media_type: str, url: str) -> bool:
        """An image's rule: images stay URLs (ours included), the provider fetches them."""
        types = self.input_types
        return media_type_matches(types.urls if _is_external(url) else types.data, media_type)

    def _refusal(self, media_type: str, label: str, *, by_url: bool) -> str:
        if by_url and media_type_matches(self.input_types.data, media_type):
            return (
                f"the model {self.model_id} takes {media_type} files only uploaded here or "
                f"as data: URLs, not by URL ({label})"
            )
        return f"the model {self.model_id} does not take {media_type} files ({label})"

    async def _bytes(self, url: str, label: str, cap: int) -> bytes | None:
        """The file's bytes (a data: URL, or our storage), None for an external URL."""
        if url.startswith("data:"):
            data = decode_data_url(url)
            if data is None:
                raise AttachmentRejected(f"{label} has a malformed data: URL")
        else:
            if url in self._read:
                data = self._read[url]
            else:
                try:
                    data = self._read[url] = await self.read(url)
                except StorageError:
                    raise AttachmentRejected(f"{label} could not be read from storage") from None
            if data is None:
                if not _is_external(url):
                    raise AttachmentRejected(f"{label} has no readable URL")
                return None
        if len(data) > cap:
            raise AttachmentRejected(f"{label} is larger than {cap} bytes")
        return data


def _is_file(part: ContentPart) -> bool:
    return isinstance(part, ImagePart | FilePart)


def _is_external(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def decode_data_url(url: str) -> bytes | None:
    """The bytes of a `data:[type][;base64],…` URL, or None when it is malformed."""
    header, sep, payload = url[5:].partition(",")
    if not sep:
        return None
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return None
    return unquote_to_bytes(payload)


def inline_text(filename: str | None, media_type: str, text: str) -> str:
    """A text file as the model reads it: `<file name="…" type="…">` … `</file>`."""
    name = escape(filename or "attachment", quote=True)
    return f'<file name="{name}" type="{escape(media_type, quote=True)}">\n{text}\n</file>'


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"
