"""Rules of documents and suggestions: ownership (the oldest version's owner), versioning
with strictly increasing timestamps, revert by timestamp. Also the entry points the chat
tools use, so ownership holds there too."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.core.errors import AppError, BadRequest, DocumentForbidden, DocumentNotFound
from chatbot_api.db.types import truncate_ms, utcnow
from chatbot_api.documents import repository
from chatbot_api.documents.models import Document, Suggestion
from chatbot_api.documents.schemas import DOCUMENT_KINDS, TITLE_MAX_CHARS, SuggestionDraft

ONE_MS = timedelta(milliseconds=1)
_MAX_TIMESTAMP_CHARS = 100
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# JavaScript's Date#toString(): `Thu Jan 15 2026 16:06:42 GMT+0000 (Coordinated Universal
# Time)`; an unencoded `+` arrives as a space.
_JS_DATE = re.compile(
    r"^[A-Za-z]{3},? ([A-Za-z]{3}) (\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})"
    r" GMT([+\- ])(\d{2}):?(\d{2})(?: \(.*\))?$"
)
# ISO-8601 whose `+hh:mm` offset lost its `+` to URL decoding.
_ISO_SPACE_OFFSET = re.compile(r"^(.*T[0-9:.]+) (\d{2}:?\d{2})$")


class SuggestionsForbidden(AppError):
    code = "forbidden:api"


def parse_uuid(raw: str, name: str) -> uuid.UUID:
    """A query parameter as a UUID, or 400 naming the parameter."""
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise BadRequest(f"Parameter {name} must be a UUID.") from None


def parse_timestamp(raw: str) -> datetime:
    """A client timestamp as aware UTC at millisecond precision, or 400.

    Accepts ISO-8601 (naive values are UTC; `Z` or an offset) and the renderings of
    JavaScript's `Date#toString()` / `toUTCString()` that the ai-chatbot client may send.
    """
    text = raw.strip()
    value = None if len(text) > _MAX_TIMESTAMP_CHARS else _parse_iso(text) or _parse_js(text)
    if value is not None:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return truncate_ms(value.astimezone(UTC))
        except (OverflowError, ValueError):
            pass
    raise BadRequest("Parameter timestamp must be an ISO-8601 date, e.g. 2026-01-15T16:06:42.123Z.")


def _parse_iso(text: str) -> datetime | None:
    match = _ISO_SPACE_OFFSET.match(text)
    if match:
        text = f"{match.group(1)}+{match.group(2)}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_js(text: str) -> datetime | None:
    match = _JS_DATE.match(text)
    if match is None:
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    month, day, year, hour, minute, second, sign, off_h, off_m = match.groups()
    if month.lower() not in _MONTHS:
        return None
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    try:
        local = datetime(
            int(year),
            _MONTHS.index(month.lower()) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    try:
        return local - offset if sign != "-" else local + offset
    except OverflowError:
        return None


async def _owner_id(
    session: AsyncSession, doc_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    """The document's owner, or None if it has no versions; 403 if it is not `user_id`."""
    owner = await repository.get_owner_id(session, doc_id)
    if owner is not None and owner != user_id:
        raise DocumentForbidden()
    return owner


async def list_versions(
    session: AsyncSession, doc_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[Document]:
    """All versions, oldest first. 404 if there are none; 403 if owned by someone else."""
    versions = await repository.list_versions(session, doc_id)
    if not versions:
        raise DocumentNotFound()
    if versions[0].user_id != user_id:
        raise DocumentForbidden()
    return versions


async def get_latest_version(
    session: AsyncSession, doc_id: uuid.UUID, user_id: uuid.UUID
) -> Document | None:
    """The newest version of `doc_id`, or None if it does not exist.

    Raises `DocumentForbidden` when the document (its oldest version) belongs to another user.
    """
    if await _owner_id(session, doc_id, user_id) is None:
        return None
    return await repository.get_latest_version(session, doc_id)


async def save_version(
    session: AsyncSession,
    *,
    doc_id: uuid.UUID,
    title: str,
    kind: str,
    content: str | None,
    user_id: uuid.UUID,
) -> Document:
    """Insert a new version of `doc_id` owned by `user_id` (a new id creates version 1).

    Raises `DocumentForbidden` when the document belongs to another user, and
    `bad_request:document` for a kind outside text|code|image|sheet or a title outside
    1..256 characters (callers holding model output should trim it first). Its `createdAt`
    is now, or 1 ms after the latest version's when that is not earlier, so versions never
    collide and stay strictly ordered. Flushes; the caller's unit of work commits.
    """
    if kind not in DOCUMENT_KINDS:
        raise AppError(f"Unknown document kind {kind!r}.", code="bad_request:document")
    if not 1 <= len(title) <= TITLE_MAX_CHARS:
        raise AppError(
            f"Title must be 1 to {TITLE_MAX_CHARS} characters.", code="bad_request:document"
        )
    await repository.lock_document_id(session, doc_id)
    await _owner_id(session, doc_id, user_id)
    created_at = utcnow()
    latest = await repository.get_latest_version(session, doc_id)
    if latest is not None and latest.created_at >= created_at:
        created_at = latest.created_at + ONE_MS
    document = Document(
        id=doc_id,
        created_at=created_at,
        title=title,
        content=content,
        kind=kind,
        user_id=user_id,
    )
    return await repository.insert_version(session, document)


async def revert_to(
    session: AsyncSession, doc_id: uuid.UUID, timestamp: datetime, user_id: uuid.UUID
) -> list[Document]:
    """Delete every version later than `timestamp` and their suggestions; the version at
    `timestamp` survives. Returns the deleted versions, oldest first. 404 / 403 as usual."""
    await repository.lock_document_id(session, doc_id)
    if await _owner_id(session, doc_id, user_id) is None:
        raise DocumentNotFound()
    return await repository.delete_versions_after(session, doc_id, timestamp)


async def list_suggestions(
    session: AsyncSession, doc_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[Suggestion]:
    """All suggestions of every version of `doc_id` (`[]` for an unknown document).

    403 `forbidden:api` when the document belongs to another user.
    """
    owner = await repository.get_owner_id(session, doc_id)
    if owner is None:
        return []
    if owner != user_id:
        raise SuggestionsForbidden()
    return await repository.list_suggestions(session, doc_id)


async def save_suggestions(
    session: AsyncSession,
    *,
    document: Document,
    suggestions: Sequence[SuggestionDraft],
    user_id: uuid.UUID,
) -> list[Suggestion]:
    """Attach `suggestions` to the version `document` (a row from `get_latest_version`).

    Raises `DocumentForbidden` when the document belongs to another user and
    `DocumentNotFound` when it no longer exists. Flushes; the caller commits.
    """
    if await _owner_id(session, document.id, user_id) is None:
        raise DocumentNotFound()
    rows = [
        Suggestion(
            id=draft.id,
            document_id=document.id,
            document_created_at=document.created_at,
            original_text=draft.original_text,
            suggested_text=draft.suggested_text,
            description=draft.description,
            is_resolved=False,
            user_id=user_id,
            created_at=utcnow(),
        )
        for draft in suggestions
    ]
    if not rows:
        return []
    return await repository.insert_suggestions(session, rows)
