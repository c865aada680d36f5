"""Baseline: the ai-chatbot schema after its Drizzle migration 0008.

On a database created by the Next.js app this revision is stamped, never run (`db adopt`).
Later revisions are additive only: nothing the Next.js app reads is dropped or renamed.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-21
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatbot_api.db.types import UTCDateTime, gen_random_uuid

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _uuid_pk() -> sa.Column[uuid.UUID]:
    return sa.Column("id", sa.Uuid(), server_default=gen_random_uuid(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "User",
        _uuid_pk(),
        sa.Column("email", sa.String(64), nullable=False),
        sa.Column("password", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="User_pkey"),
    )
    op.create_table(
        "Chat",
        _uuid_pk(),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("visibility", sa.String(), server_default=sa.text("'private'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="Chat_pkey"),
        sa.ForeignKeyConstraint(["userId"], ["User.id"], name="Chat_userId_User_id_fk"),
    )
    op.create_table(
        "Document",
        sa.Column("id", sa.Uuid(), server_default=gen_random_uuid(), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("text", sa.String(), server_default=sa.text("'text'"), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", "createdAt", name="Document_id_createdAt_pk"),
        sa.ForeignKeyConstraint(["userId"], ["User.id"], name="Document_userId_User_id_fk"),
    )
    op.create_table(
        "Suggestion",
        _uuid_pk(),
        sa.Column("documentId", sa.Uuid(), nullable=False),
        sa.Column("documentCreatedAt", UTCDateTime(), nullable=False),
        sa.Column("originalText", sa.Text(), nullable=False),
        sa.Column("suggestedText", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("isResolved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="Suggestion_id_pk"),
        sa.ForeignKeyConstraint(["userId"], ["User.id"], name="Suggestion_userId_User_id_fk"),
        sa.ForeignKeyConstraint(
            ["documentId", "documentCreatedAt"],
            ["Document.id", "Document.createdAt"],
            name="Suggestion_documentId_documentCreatedAt_Document_id_createdAt_f",
        ),
    )
    op.create_table(
        "Message",
        _uuid_pk(),
        sa.Column("chatId", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="Message_pkey"),
        sa.ForeignKeyConstraint(["chatId"], ["Chat.id"], name="Message_chatId_Chat_id_fk"),
    )
    op.create_table(
        "Vote",
        sa.Column("chatId", sa.Uuid(), nullable=False),
        sa.Column("messageId", sa.Uuid(), nullable=False),
        sa.Column("isUpvoted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("chatId", "messageId", name="Vote_chatId_messageId_pk"),
        sa.ForeignKeyConstraint(["chatId"], ["Chat.id"], name="Vote_chatId_Chat_id_fk"),
        sa.ForeignKeyConstraint(["messageId"], ["Message.id"], name="Vote_messageId_Message_id_fk"),
    )
    op.create_table(
        "Message_v2",
        _uuid_pk(),
        sa.Column("chatId", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="Message_v2_pkey"),
        sa.ForeignKeyConstraint(["chatId"], ["Chat.id"], name="Message_v2_chatId_Chat_id_fk"),
    )
    op.create_table(
        "Vote_v2",
        sa.Column("chatId", sa.Uuid(), nullable=False),
        sa.Column("messageId", sa.Uuid(), nullable=False),
        sa.Column("isUpvoted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("chatId", "messageId", name="Vote_v2_chatId_messageId_pk"),
        sa.ForeignKeyConstraint(["chatId"], ["Chat.id"], name="Vote_v2_chatId_Chat_id_fk"),
        sa.ForeignKeyConstraint(
            ["messageId"], ["Message_v2.id"], name="Vote_v2_messageId_Message_v2_id_fk"
        ),
    )
    op.create_table(
        "Stream",
        _uuid_pk(),
        sa.Column("chatId", sa.Uuid(), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="Stream_id_pk"),
        sa.ForeignKeyConstraint(["chatId"], ["Chat.id"], name="Stream_chatId_Chat_id_fk"),
    )


def downgrade() -> None:
    raise RuntimeError("The baseline is the Next.js app's schema; it is never dropped.")
