"""Ours, additive: refresh tokens, per-message token usage, and read-path indexes.

New tables reference the Next.js tables with ON DELETE CASCADE, so the Next.js app's own
deletes keep working while both backends share the database.

Revision ID: 0002_tokens_usage_indexes
Revises: 0001_baseline
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatbot_api.db.types import UTCDateTime

revision: str = "0002_tokens_usage_indexes"
down_revision: str | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "RefreshToken",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("familyId", sa.Uuid(), nullable=False),
        sa.Column("tokenHash", sa.String(64), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.Column("expiresAt", UTCDateTime(), nullable=False),
        sa.Column("usedAt", UTCDateTime(), nullable=True),
        sa.Column("revokedAt", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="RefreshToken_id_pk"),
        sa.ForeignKeyConstraint(
            ["userId"], ["User.id"], name="RefreshToken_userId_User_id_fk", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("tokenHash", name="RefreshToken_tokenHash_unique"),
    )
    op.create_index("RefreshToken_familyId_idx", "RefreshToken", ["familyId"])
    op.create_index("RefreshToken_userId_idx", "RefreshToken", ["userId"])
    op.create_table(
        "MessageUsage",
        sa.Column("messageId", sa.Uuid(), nullable=False),
        sa.Column("chatId", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("modelId", sa.String(200), nullable=False),
        sa.Column("inputTokens", sa.Integer(), nullable=False),
        sa.Column("outputTokens", sa.Integer(), nullable=False),
        sa.Column("reasoningTokens", sa.Integer(), nullable=True),
        sa.Column("cachedInputTokens", sa.Integer(), nullable=True),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("messageId", name="MessageUsage_messageId_pk"),
        sa.ForeignKeyConstraint(
            ["messageId"],
            ["Message_v2.id"],
            name="MessageUsage_messageId_Message_v2_id_fk",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chatId"], ["Chat.id"], name="MessageUsage_chatId_Chat_id_fk", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["userId"], ["User.id"], name="MessageUsage_userId_User_id_fk", ondelete="CASCADE"
        ),
    )
    op.create_index("MessageUsage_userId_createdAt_idx", "MessageUsage", ["userId", "createdAt"])
    op.create_index("Chat_userId_createdAt_idx", "Chat", ["userId", "createdAt"])
    op.create_index("Message_v2_chatId_createdAt_idx", "Message_v2", ["chatId", "createdAt"])
    op.create_index("Stream_chatId_idx", "Stream", ["chatId"])
    op.create_index("Suggestion_documentId_idx", "Suggestion", ["documentId"])


def downgrade() -> None:
    op.drop_index("Suggestion_documentId_idx", table_name="Suggestion")
    op.drop_index("Stream_chatId_idx", table_name="Stream")
    op.drop_index("Message_v2_chatId_createdAt_idx", table_name="Message_v2")
    op.drop_index("Chat_userId_createdAt_idx", table_name="Chat")
    op.drop_table("MessageUsage")
    op.drop_table("RefreshToken")
