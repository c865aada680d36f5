"""The ai-chatbot chat tables: `"Chat"`, `"Message_v2"`, `"Vote_v2"`, `"Stream"` and the
deprecated `"Message"`/`"Vote"` (kept because the Next.js schema still has them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chatbot_api.db.base import Base
from chatbot_api.db.types import UTCDateTime, gen_random_uuid, utcnow


class Chat(Base):
    __tablename__ = "Chat"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="Chat_pkey"),
        # Ours (additive): history pages and the daily-limit count.
        Index("Chat_userId_createdAt_idx", "userId", "createdAt"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
    title: Mapped[str] = mapped_column(Text)
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid, ForeignKey("User.id"))
    visibility: Mapped[str] = mapped_column(
        String, default="private", server_default=text("'private'")
    )


class Message(Base):
    """A chat message as AI SDK UI parts (`Message_v2`)."""

    __tablename__ = "Message_v2"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="Message_v2_pkey"),
        # Ours (additive): messages of a chat in order; the daily-limit count.
        Index("Message_v2_chatId_createdAt_idx", "chatId", "createdAt"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    chat_id: Mapped[uuid.UUID] = mapped_column("chatId", Uuid, ForeignKey("Chat.id"))
    role: Mapped[str] = mapped_column(String)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    attachments: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class Vote(Base):
    __tablename__ = "Vote_v2"
    __table_args__ = (
        PrimaryKeyConstraint("chatId", "messageId", name="Vote_v2_chatId_messageId_pk"),
    )

    chat_id: Mapped[uuid.UUID] = mapped_column("chatId", Uuid, ForeignKey("Chat.id"))
    message_id: Mapped[uuid.UUID] = mapped_column("messageId", Uuid, ForeignKey("Message_v2.id"))
    is_upvoted: Mapped[bool] = mapped_column("isUpvoted", Boolean)


class Stream(Base):
    __tablename__ = "Stream"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="Stream_id_pk"),
        Index("Stream_chatId_idx", "chatId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    chat_id: Mapped[uuid.UUID] = mapped_column("chatId", Uuid, ForeignKey("Chat.id"))
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class LegacyMessage(Base):
    """Deprecated `"Message"` table (pre-parts messages); never written, cleaned on delete."""

    __tablename__ = "Message"
    __table_args__ = (PrimaryKeyConstraint("id", name="Message_pkey"),)

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    chat_id: Mapped[uuid.UUID] = mapped_column("chatId", Uuid, ForeignKey("Chat.id"))
    role: Mapped[str] = mapped_column(String)
    content: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime)


class LegacyVote(Base):
    """Deprecated `"Vote"` table; never written, cleaned on delete."""

    __tablename__ = "Vote"
    __table_args__ = (PrimaryKeyConstraint("chatId", "messageId", name="Vote_chatId_messageId_pk"),)

    chat_id: Mapped[uuid.UUID] = mapped_column("chatId", Uuid, ForeignKey("Chat.id"))
    message_id: Mapped[uuid.UUID] = mapped_column("messageId", Uuid, ForeignKey("Message.id"))
    is_upvoted: Mapped[bool] = mapped_column("isUpvoted", Boolean)


class MessageUsage(Base):
    """Ours: token usage of one assistant message (deleted with the message)."""

    __tablename__ = "MessageUsage"
    __table_args__ = (
        PrimaryKeyConstraint("messageId", name="MessageUsage_messageId_pk"),
        Index("MessageUsage_userId_createdAt_idx", "userId", "createdAt"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(
        "messageId", Uuid, ForeignKey("Message_v2.id", ondelete="CASCADE")
    )
    chat_id: Mapped[uuid.UUID] = mapped_column(
        "chatId", Uuid, ForeignKey("Chat.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        "userId", Uuid, ForeignKey("User.id", ondelete="CASCADE")
    )
    model_id: Mapped[str] = mapped_column("modelId", String(200))
    input_tokens: Mapped[int] = mapped_column("inputTokens", Integer, default=0)
    output_tokens: Mapped[int] = mapped_column("outputTokens", Integer, default=0)
    reasoning_tokens: Mapped[int | None] = mapped_column("reasoningTokens", Integer, nullable=True)
    cached_input_tokens: Mapped[int | None] = mapped_column(
        "cachedInputTokens", Integer, nullable=True
    )
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)


class SentMessage(Base):
    """Ours: a user message of the last day, for the daily limit's count (one index range per
    user). Written by a trigger on "Message_v2" for every writer, which also deletes the
    user's rows older than 25 hours; deleted with the message (migration 0006)."""

    __tablename__ = "SentMessage"
    __table_args__ = (
        PrimaryKeyConstraint("messageId", name="SentMessage_messageId_pk"),
        Index("SentMessage_userId_createdAt_idx", "userId", "createdAt"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(
        "messageId", Uuid, ForeignKey("Message_v2.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column("userId", Uuid)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime)


class StreamReply(Base):
    """Ours: that a turn's reply was saved, and by whom (`turn`: its producer; `recovery`:
    another worker that ended it after its worker died), so a reply is saved once and a
    producer's save still replaces a recovery's (deleted with the stream)."""

    __tablename__ = "StreamReply"
    __table_args__ = (PrimaryKeyConstraint("streamId", name="StreamReply_streamId_pk"),)

    stream_id: Mapped[uuid.UUID] = mapped_column(
        "streamId", Uuid, ForeignKey("Stream.id", ondelete="CASCADE")
    )
    message_id: Mapped[uuid.UUID] = mapped_column("messageId", Uuid)
    saved_by: Mapped[str] = mapped_column("savedBy", String(16))
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
