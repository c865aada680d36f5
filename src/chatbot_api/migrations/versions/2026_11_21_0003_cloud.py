"""Ours, additive: the Assistant Cloud tables (threads, messages, feedback, identities,
attachments, run reports, events, scores), all cascading from "User".

Revision ID: 0003_cloud
Revises: 0002_tokens_usage_indexes
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatbot_api.db.types import UTCDateTime

revision: str = "0003_cloud"
down_revision: str | None = "0002_tokens_usage_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at() -> sa.Column[object]:
    return sa.Column("createdAt", UTCDateTime(), nullable=False)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["userId"], ["User.id"], name=f"{table}_userId_User_id_fk", ondelete="CASCADE"
    )


def _thread_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["threadId"], ["Thread.id"], name=f"{table}_threadId_Thread_id_fk", ondelete="CASCADE"
    )


def _threads_and_messages() -> None:
    op.create_table(
        "Thread",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("isArchived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("externalId", sa.String(255), nullable=True),
        sa.Column("metadata", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("messageSeq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _created_at(),
        sa.Column("updatedAt", UTCDateTime(), nullable=False),
        sa.Column("lastMessageAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="Thread_id_pk"),
        _user_fk("Thread"),
    )
    op.create_index(
        "Thread_userId_isArchived_lastMessageAt_idx",
        "Thread",
        ["userId", "isArchived", "lastMessageAt"],
    )
    op.create_table(
        "ThreadMessage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("threadId", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("parentId", sa.String(255), nullable=True),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        _created_at(),
        sa.Column("updatedAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="ThreadMessage_id_pk"),
        _thread_fk("ThreadMessage"),
        sa.UniqueConstraint("threadId", "seq", name="ThreadMessage_threadId_seq_unique"),
    )
    op.create_table(
        "ThreadMessageFeedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("messageId", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="ThreadMessageFeedback_id_pk"),
        sa.ForeignKeyConstraint(
            ["messageId"],
            ["ThreadMessage.id"],
            name="ThreadMessageFeedback_messageId_ThreadMessage_id_fk",
            ondelete="CASCADE",
        ),
        _user_fk("ThreadMessageFeedback"),
    )
    op.create_index("ThreadMessageFeedback_messageId_idx", "ThreadMessageFeedback", ["messageId"])


def _identities_and_attachments() -> None:
    op.create_table(
        "CloudIdentity",
        sa.Column("workspaceId", sa.String(128), nullable=False),
        sa.Column("externalUserId", sa.String(255), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("workspaceId", "externalUserId", name="CloudIdentity_pk"),
        _user_fk("CloudIdentity"),
    )
    op.create_index("CloudIdentity_userId_idx", "CloudIdentity", ["userId"])
    op.create_table(
        "CloudAttachment",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("contentType", sa.String(255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        _created_at(),
        sa.Column("uploadedAt", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="CloudAttachment_key_pk"),
        _user_fk("CloudAttachment"),
    )
    op.create_index("CloudAttachment_userId_idx", "CloudAttachment", ["userId"])


def _telemetry() -> None:
    op.create_table(
        "CloudRun",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("threadId", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("modelId", sa.String(200), nullable=True),
        sa.Column("inputTokens", sa.Integer(), nullable=True),
        sa.Column("outputTokens", sa.Integer(), nullable=True),
        sa.Column("durationMs", sa.Integer(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="CloudRun_id_pk"),
        _user_fk("CloudRun"),
        _thread_fk("CloudRun"),
    )
    op.create_index("CloudRun_userId_createdAt_idx", "CloudRun", ["userId", "createdAt"])
    op.create_index("CloudRun_threadId_idx", "CloudRun", ["threadId"])
    op.create_table(
        "CloudEvent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("threadId", sa.Uuid(), nullable=True),
        sa.Column("messageId", sa.String(255), nullable=True),
        sa.Column("runId", sa.String(255), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("props", sa.JSON(none_as_null=True), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="CloudEvent_id_pk"),
        _user_fk("CloudEvent"),
        _thread_fk("CloudEvent"),
    )
    op.create_index("CloudEvent_userId_createdAt_idx", "CloudEvent", ["userId", "createdAt"])
    op.create_index("CloudEvent_threadId_idx", "CloudEvent", ["threadId"])
    op.create_table(
        "CloudScore",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("dataType", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("stringValue", sa.String(1000), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("threadId", sa.Uuid(), nullable=True),
        sa.Column("messageId", sa.String(255), nullable=True),
        sa.Column("runId", sa.String(255), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="CloudScore_id_pk"),
        _user_fk("CloudScore"),
        _thread_fk("CloudScore"),
    )
    op.create_index("CloudScore_userId_createdAt_idx", "CloudScore", ["userId", "createdAt"])
    op.create_index("CloudScore_threadId_idx", "CloudScore", ["threadId"])


def upgrade() -> None:
    _threads_and_messages()
    _identities_and_attachments()
    _telemetry()


def downgrade() -> None:
    for table in (
        "CloudScore",
        "CloudEvent",
        "CloudRun",
        "CloudAttachment",
        "CloudIdentity",
        "ThreadMessageFeedback",
        "ThreadMessage",
        "Thread",
    ):
        op.drop_table(table)
