"""Rules of the threads API: ownership (another user's thread is not found), thread pages,
message chains and heights, size limits, and claiming an anonymous user's threads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth import repository as auth_repo
from chatbot_api.auth.identity import AuthUser, is_guest_email
from chatbot_api.cloud import repository as repo
from chatbot_api.cloud.errors import (
    CloudBadRequest,
    CloudForbidden,
    MessageNotFound,
    PayloadTooLarge,
    ThreadNotFound,
    parse_id,
)
from chatbot_api.cloud.models import CloudMessage, CloudThread
from chatbot_api.cloud.schemas import (
    MessageCreate,
    MessageOut,
    ThreadCreate,
    ThreadOut,
    ThreadUpdate,
)
from chatbot_api.core.security import hash_token
from chatbot_api.db.types import iso_ms, utcnow

MAX_CONTENT_BYTES = 1024 * 1024
THREADS_MAX_PAGE = 100
MESSAGES_MAX_PAGE = 1000
MESSAGES_HARD_CAP = 2000  # `limit` absent (0.1.x clients): every row, up to this many


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_content_size(content: dict[str, Any]) -> None:
    size = len(orjson.dumps(content))
    if size > MAX_CONTENT_BYTES:
        raise PayloadTooLarge(
            f"content is {size} bytes of JSON; the limit is {MAX_CONTENT_BYTES} bytes"
        )


def message_out(message: CloudMessage) -> MessageOut:
    return MessageOut(
        id=str(message.id),
        parent_id=message.parent_id,
        height=message.height,
        created_at=iso_ms(message.created_at),
        updated_at=iso_ms(message.updated_at),
        format=message.format,
        content=message.content,
    )


class ThreadService:
    """One request's view of the caller's threads; writes go through its session (no commit)."""

    def __init__(self, session: AsyncSession, user: AuthUser, project_id: str) -> None:
        self.session = session
        self.user = user
        self.project_id = project_id

    def thread_out(self, thread: CloudThread) -> ThreadOut:
        return ThreadOut(
            id=str(thread.id),
            title=thread.title,
            is_archived=thread.is_archived,
            external_id=thread.external_id,
            metadata=thread.meta,
            project_id=self.project_id,
            workspace_id=str(thread.user_id),
            created_at=iso_ms(thread.created_at),
            updated_at=iso_ms(thread.updated_at),
            last_message_at=iso_ms(thread.last_message_at),
        )

    async def owned_thread(self, thread_id: str) -> CloudThread:
        parsed = parse_id(thread_id)
        thread = await repo.get_thread(self.session, self.user.id, parsed) if parsed else None
        if thread is None:
            raise ThreadNotFound()
        return thread

    # --- threads ---------------------------------------------------------------------------

    async def list_threads(
        self, *, archived: bool, limit: int, after: str | None
    ) -> list[ThreadOut]:
        cursor = None
        if after is not None:
            parsed = parse_id(after)
            cursor = await repo.get_thread(self.session, self.user.id, parsed) if parsed else None
            if cursor is None:
                return []  # an unknown (or someone else's) cursor: no more pages
        limit = max(1, min(limit, THREADS_MAX_PAGE))
        threads = await repo.list_threads(
            self.session, self.user.id, archived=archived, limit=limit, after=cursor
        )
        return [self.thread_out(thread) for thread in threads]

    async def get_thread(self, thread_id: str) -> ThreadOut:
        return self.thread_out(await self.owned_thread(thread_id))

    async def create_thread(self, body: ThreadCreate) -> str:
        now = utcnow()
        thread = CloudThread(
            id=uuid.uuid4(),
            user_id=self.user.id,
            title=body.title,
            external_id=body.external_id,
            meta=body.metadata,
            is_archived=False,
            message_seq=0,
            created_at=now,
            updated_at=now,
            last_message_at=to_utc(body.last_message_at) if body.last_message_at else now,
        )
        await repo.add(self.session, thread)
        return str(thread.id)

    async def update_thread(self, thread_id: str, body: ThreadUpdate) -> None:
        parsed = parse_id(thread_id)
        present = body.model_fields_set
        values: dict[str, Any] = {"updated_at": utcnow()}
        if "title" in present:
            values["title"] = body.title
        if "metadata" in present:
            values["meta"] = body.metadata
        if "is_archived" in present:
            values["is_archived"] = body.is_archived
        if "last_message_at" in present and body.last_message_at is not None:
            values["last_message_at"] = to_utc(body.last_message_at)
        if parsed is None or not await repo.update_thread(
            self.session, self.user.id, parsed, values
        ):
            raise ThreadNotFound()

    async def set_title(self, thread_id: uuid.UUID, title: str) -> bool:
        values = {"title": title, "updated_at": utcnow()}
        return await repo.update_thread(self.session, self.user.id, thread_id, values)

    async def delete_thread(self, thread_id: str) -> None:
        parsed = parse_id(thread_id)
        if parsed is None or not await repo.delete_thread(self.session, self.user.id, parsed):
            raise ThreadNotFound()

    # --- messages --------------------------------------------------------------------------

    async def create_message(self, thread_id: str, body: MessageCreate) -> str:
        check_content_size(body.content)
        parsed = parse_id(thread_id)
        now = utcnow()
        seq = (
            await repo.next_message_seq(self.session, self.user.id, parsed, now) if parsed else None
        )
        if parsed is None or seq is None:
            raise ThreadNotFound()
        height = 0
        parent = parse_id(body.parent_id) if body.parent_id else None
        if parent is not None:
            parent_height = await repo.message_height(self.session, parsed, parent)
            height = parent_height + 1 if parent_height is not None else 0
        message = CloudMessage(
            id=uuid.uuid4(),
            thread_id=parsed,
            seq=seq,
            parent_id=body.parent_id,
            height=height,
            format=body.format,
            content=body.content,
            created_at=now,
            updated_at=now,
        )
        await repo.add(self.session, message)
        return str(message.id)

    async def list_messages(
        self, thread_id: str, *, format: str | None, limit: int | None, after: str | None
    ) -> list[MessageOut]:
        thread = await self.owned_thread(thread_id)
        before_seq = None
        if after is not None:
            cursor = parse_id(after)
            before_seq = await repo.message_seq(self.session, thread.id, cursor) if cursor else None
            if before_seq is None:
                return []  # an unknown cursor ends the client's paging loop
        page = MESSAGES_HARD_CAP if limit is None else max(1, min(limit, MESSAGES_MAX_PAGE))
        rows = await repo.list_messages(
            self.session, thread.id, format=format, limit=page, before_seq=before_seq
        )
        return [message_out(row) for row in rows]

    async def update_message(
        self, thread_id: str, message_id: str, content: dict[str, Any]
    ) -> None:
        check_content_size(content)
        thread = await self.owned_thread(thread_id)
        parsed = parse_id(message_id)
        if parsed is None or not await repo.update_message_content(
            self.session, thread.id, parsed, content, utcnow()
        ):
            raise MessageNotFound()

    # --- claim -----------------------------------------------------------------------------

    async def claim(self, refresh_token: str) -> int:
        """Move every thread of the anonymous (guest) identity holding `refresh_token` to the
        caller, and end that identity's sessions (its refresh-token family is revoked)."""
        if self.user.type == "guest":
            raise CloudForbidden("Sign in before claiming threads")
        now = utcnow()
        row = await auth_repo.get_refresh_token(self.session, hash_token(refresh_token))
        if row is None or row.used_at or row.revoked_at or row.expires_at <= now:
            raise CloudBadRequest("refresh_token: invalid or expired")
        guest = await auth_repo.get_user(self.session, row.user_id)
        if guest is None or not is_guest_email(guest.email):
            raise CloudBadRequest("refresh_token: not an anonymous identity")
        if guest.id == self.user.id:
            raise CloudBadRequest("refresh_token: that identity is the caller")
        moved = await repo.move_threads(self.session, guest.id, self.user.id, now)
        await auth_repo.revoke_family(self.session, row.family_id, now)
        return moved
