"""Tables of the Assistant Cloud API: threads, their messages, feedback, identities,
attachments and telemetry (all ours, additive, cascading from `"User"`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chatbot_api.db.base import Base
from chatbot_api.db.types import UTCDateTime, utcnow

THREAD_FK = "Thread.id"


def _user_fk() -> ForeignKey:
    return ForeignKey("User.id", ondelete="CASCADE")


class CloudThread(Base):
    """A conversation of one user. `messageSeq` numbers its messages in insertion order."""

    __tablename__ = "Thread"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="Thread_id_pk"),
        Index(
            "Thread_userId_isArchived_lastMessageAt_idx", "userId", "isArchived", "lastMessageAt"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_archived: Mapped[bool] = mapped_column(
        "isArchived", Boolean, default=False, server_default=false()
    )
    external_id: Mapped[str | None] = mapped_column("externalId", String(255), nullable=True)
    meta: Mapped[Any | None] = mapped_column("metadata", JSON(none_as_null=True), nullable=True)
    message_seq: Mapped[int] = mapped_column(
        "messageSeq", Integer, default=0, server_default=text("0")
    )
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column("updatedAt", UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column("lastMessageAt", UTCDateTime, default=utcnow)


class CloudMessage(Base):
    """One stored message, opaque `content` in a client-chosen `format`. `parentId` is kept as
    sent (it may be a client-local id); `seq` orders the thread's messages."""

    __tablename__ = "ThreadMessage"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="ThreadMessage_id_pk"),
        UniqueConstraint("threadId", "seq", name="ThreadMessage_threadId_seq_unique"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    thread_id: Mapped[uuid.UUID] = mapped_column(
        "threadId", Uuid, ForeignKey(THREAD_FK, ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[str | None] = mapped_column("parentId", String(255), nullable=True)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(64))
    content: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column("updatedAt", UTCDateTime, default=utcnow)


class CloudFeedback(Base):
    """A thumbs up/down (with an optional comment) on a message."""

    __tablename__ = "ThreadMessageFeedback"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="ThreadMessageFeedback_id_pk"),
        Index("ThreadMessageFeedback_messageId_idx", "messageId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(
        "messageId", Uuid, ForeignKey("ThreadMessage.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    type: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class CloudIdentity(Base):
    """Maps an API-key server's (workspace, user id) to one of our users."""

    __tablename__ = "CloudIdentity"
    __table_args__ = (
        PrimaryKeyConstraint("workspaceId", "externalUserId", name="CloudIdentity_pk"),
        Index("CloudIdentity_userId_idx", "userId"),
    )

    workspace_id: Mapped[str] = mapped_column("workspaceId", String(128))
    external_user_id: Mapped[str] = mapped_column("externalUserId", String(255))
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class CloudAttachment(Base):
    """A file uploaded through a signed URL; `key` is its storage pathname."""

    __tablename__ = "CloudAttachment"
    __table_args__ = (
        PrimaryKeyConstraint("key", name="CloudAttachment_key_pk"),
        Index("CloudAttachment_userId_idx", "userId"),
    )

    key: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column("contentType", String(255), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column("uploadedAt", UTCDateTime, nullable=True)


class CloudRun(Base):
    """A run report (client telemetry) with the fields worth querying pulled out."""

    __tablename__ = "CloudRun"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="CloudRun_id_pk"),
        Index("CloudRun_userId_createdAt_idx", "userId", "createdAt"),
        Index("CloudRun_threadId_idx", "threadId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    thread_id: Mapped[uuid.UUID] = mapped_column(
        "threadId", Uuid, ForeignKey(THREAD_FK, ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str | None] = mapped_column("modelId", String(200), nullable=True)
    input_tokens: Mapped[int | None] = mapped_column("inputTokens", Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column("outputTokens", Integer, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column("durationMs", Integer, nullable=True)
    report: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class CloudEvent(Base):
    """An engagement event (client telemetry)."""

    __tablename__ = "CloudEvent"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="CloudEvent_id_pk"),
        Index("CloudEvent_userId_createdAt_idx", "userId", "createdAt"),
        Index("CloudEvent_threadId_idx", "threadId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    kind: Mapped[str] = mapped_column(String(32))
    thread_id: Mapped[uuid.UUID | None] = mapped_column(
        "threadId", Uuid, ForeignKey(THREAD_FK, ondelete="CASCADE"), nullable=True
    )
    message_id: Mapped[str | None] = mapped_column("messageId", String(255), nullable=True)
    run_id: Mapped[str | None] = mapped_column("runId", String(255), nullable=True)
    value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    props: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class CloudScore(Base):
    """A score an app recorded (numeric, categorical or boolean)."""

    __tablename__ = "CloudScore"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="CloudScore_id_pk"),
        Index("CloudScore_userId_createdAt_idx", "userId", "createdAt"),
        Index("CloudScore_threadId_idx", "threadId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, _user_fk())
    name: Mapped[str] = mapped_column(String(200))
    data_type: Mapped[str] = mapped_column("dataType", String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    string_value: Mapped[str | None] = mapped_column("stringValue", String(1000), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    thread_id: Mapped[uuid.UUID | None] = mapped_column(
        "threadId", Uuid, ForeignKey(THREAD_FK, ondelete="CASCADE"), nullable=True
    )
    message_id: Mapped[str | None] = mapped_column("messageId", String(255), nullable=True)
    run_id: Mapped[str | None] = mapped_column("runId", String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
