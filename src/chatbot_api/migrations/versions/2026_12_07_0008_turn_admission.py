"""Ours, additive: the turn's admission in one function (PostgreSQL), and "StreamReply".

`chatbot_api_admit_turn` admits a new user message in one round trip. Under the user's
advisory lock it reads the facts the admission rules depend on (chats/turn/admission.py
`refuse`): who owns the conversation (its chat, else the assistant-cloud thread with that
id), how many messages the user sent in the window and the oldest of them, which message
already has the new id, and the chat's recent history. Only when those facts admit the
message does it insert the chat (when new) and the message. Called as a statement of its own,
its implicit transaction has committed, and released the lock, when the rows come back; that
commit does not wait for the WAL flush (`synchronous_commit` off for its own transaction
only). The turn's "Stream" row follows as a plain INSERT on the same connection, whose
commit does wait, and a flush covers all the WAL before it: the message is durable once that
INSERT returns, while the model request is already on its way (the turn shows nothing of
its reply until then).

Why a function: the lock must come before the facts' snapshot. In READ COMMITTED every
statement of a volatile PL/pgSQL function takes a fresh snapshot, so the statement after
`pg_advisory_xact_lock` sees every message committed before the lock was granted; one SQL
statement would read with a snapshot older than the lock, and a separate lock statement costs
round trips. Its plans are generic (`SET` below), built once per session: every lookup is by
primary key or an index prefix.

It replaces 0.1's functions (`chatbot_api_admit_message`, and the two-statement
`chatbot_api_admit_message_async_commit` / `chatbot_api_message_durable`), which go.

"StreamReply" records, per turn, that its reply was saved and by whom, so a reply is saved
once however often its save is retried, and a producer's save replaces a recovery's.

Revision ID: 0008_turn_admission
Revises: 0007_admit_message_async_commit
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatbot_api.db.types import UTCDateTime

revision: str = "0008_turn_admission"
down_revision: str | None = "0007_admit_message_async_commit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADMIT_TURN = """
CREATE FUNCTION chatbot_api_admit_turn(
    lock_namespace integer, lock_key integer, p_chat_id uuid, p_user_id uuid,
    p_message_id uuid, p_since timestamp, p_max_per_day integer, p_at timestamp,
    p_title text, p_visibility varchar, p_parts json, p_history_limit integer
)
RETURNS TABLE (
    kind integer, owner uuid, chat_exists boolean, sent bigint, oldest timestamp,
    taken_chat uuid, taken_role varchar,
    id uuid, role varchar, parts text, created_at timestamp
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, lock_key);
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH facts AS (
        SELECT
            (SELECT c."userId" FROM "Chat" c WHERE c.id = p_chat_id) AS f_chat_owner,
            (SELECT t."userId" FROM "Thread" t WHERE t.id = p_chat_id) AS f_thread_owner,
            (SELECT count(*) FROM (
                SELECT 1 FROM "SentMessage" s
                WHERE s."userId" = p_user_id AND s."createdAt" >= p_since
                LIMIT p_max_per_day
             ) w) AS f_sent,
            (SELECT min(s."createdAt") FROM "SentMessage" s
             WHERE s."userId" = p_user_id AND s."createdAt" >= p_since) AS f_oldest,
            (SELECT m."chatId" FROM "Message_v2" m WHERE m.id = p_message_id) AS f_taken_chat,
            (SELECT m.role FROM "Message_v2" m WHERE m.id = p_message_id) AS f_taken_role
    ), admitted AS (
        SELECT f.f_chat_owner FROM facts f
        WHERE coalesce(f.f_chat_owner, f.f_thread_owner, p_user_id) = p_user_id
          AND f.f_sent < p_max_per_day AND f.f_taken_chat IS NULL
    ), new_chat AS (
        INSERT INTO "Chat" (id, "createdAt", title, "userId", visibility)
        SELECT p_chat_id, p_at, p_title, p_user_id, p_visibility FROM admitted a
        WHERE a.f_chat_owner IS NULL
    ), new_message AS (
        INSERT INTO "Message_v2" (id, "chatId", role, parts, attachments, "createdAt")
        SELECT p_message_id, p_chat_id, 'user', p_parts, '[]', p_at FROM admitted
    )
    SELECT 0, coalesce(f.f_chat_owner, f.f_thread_owner), f.f_chat_owner IS NOT NULL,
           f.f_sent, f.f_oldest, f.f_taken_chat, f.f_taken_role,
           NULL::uuid, NULL::varchar, NULL::text, NULL::timestamp
    FROM facts f
    UNION ALL (
        SELECT 1, NULL::uuid, NULL::boolean, NULL::bigint, NULL::timestamp, NULL::uuid,
               NULL::varchar, m.id, m.role, m.parts::text, m."createdAt"
        FROM "Message_v2" m
        WHERE m."chatId" = p_chat_id AND p_user_id = (SELECT f.f_chat_owner FROM facts f)
        ORDER BY m."createdAt" DESC, m.id DESC
        LIMIT p_history_limit
    );
END
$fn$
"""
_DROP_ADMIT_TURN = (
    "DROP FUNCTION IF EXISTS chatbot_api_admit_turn(integer, integer, uuid, uuid, uuid, "
    "timestamp, integer, timestamp, text, varchar, json, integer)"
)
_DROP_0_1 = (
    "DROP FUNCTION IF EXISTS chatbot_api_admit_message(integer, integer, uuid, uuid, uuid, "
    "timestamp, integer, timestamp, text, varchar, json, uuid, integer)",
    "DROP FUNCTION IF EXISTS chatbot_api_admit_message_async_commit(integer, integer, uuid, "
    "uuid, uuid, timestamp, integer, timestamp, text, varchar, json, integer)",
    "DROP FUNCTION IF EXISTS chatbot_api_message_durable(integer, integer, uuid, uuid, uuid, "
    "timestamp)",
)


def upgrade() -> None:
    op.create_table(
        "StreamReply",
        sa.Column("streamId", sa.Uuid(), nullable=False),
        sa.Column("messageId", sa.Uuid(), nullable=False),
        sa.Column("savedBy", sa.String(length=16), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("streamId", name="StreamReply_streamId_pk"),
        sa.ForeignKeyConstraint(
            ["streamId"],
            ["Stream.id"],
            name="StreamReply_streamId_Stream_id_fk",
            ondelete="CASCADE",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DROP_0_1:
            op.execute(statement)
        op.execute(_ADMIT_TURN)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP_ADMIT_TURN)
    op.drop_table("StreamReply")
