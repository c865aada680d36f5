"""Ours, additive (PostgreSQL only): `chatbot_api_admit_message`, a new user message admitted
in one round trip.

Under the user's advisory lock it reads who owns the chat, how many user messages the user
sent in the window, whether the message id is taken and the chat's recent history, and
inserts the chat (when new), the message and its stream only when those facts admit it. It is
called as a statement of its own, so its implicit transaction commits (and releases the lock)
before the rows come back.

Why a function: the lock must come before the count's snapshot. In READ COMMITTED every
statement of a volatile PL/pgSQL function takes a fresh snapshot, so the statement after
`pg_advisory_xact_lock` sees every message committed before the lock was granted; a single SQL
statement would count with a snapshot older than the lock, and a separate lock statement costs
a round trip (with BEGIN and COMMIT, three in all). PL/pgSQL keeps its plans for the session;
they are generic (the `SET` below), built once: every lookup is by primary key or an index
prefix, and the count is one index probe per chat of the user.

Revision ID: 0005_admit_message_function
Revises: 0004_user_email_lower_index
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_admit_message_function"
down_revision: str | None = "0004_user_email_lower_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = """
CREATE FUNCTION chatbot_api_admit_message(
    lock_namespace integer, lock_key integer, p_chat_id uuid, p_user_id uuid,
    p_message_id uuid, p_since timestamp, p_max_per_day integer, p_at timestamp,
    p_title text, p_visibility varchar, p_parts json, p_stream_id uuid, p_history_limit integer
)
RETURNS TABLE (
    kind integer, owner uuid, sent bigint, taken boolean,
    id uuid, role varchar, parts text, created_at timestamp
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, lock_key);
    RETURN QUERY
    WITH facts AS (
        SELECT
            (SELECT c."userId" FROM "Chat" c WHERE c.id = p_chat_id) AS f_owner,
            (SELECT coalesce(sum((
                SELECT count(*) FROM "Message_v2" m
                WHERE m."chatId" = c.id AND m.role = 'user' AND m."createdAt" >= p_since
             )), 0)::bigint FROM "Chat" c WHERE c."userId" = p_user_id) AS f_sent,
            EXISTS (SELECT 1 FROM "Message_v2" m WHERE m.id = p_message_id) AS f_taken
    ), admitted AS (
        SELECT f.f_owner FROM facts f
        WHERE (f.f_owner IS NULL OR f.f_owner = p_user_id) AND f.f_sent < p_max_per_day
          AND NOT f.f_taken
    ), new_chat AS (
        INSERT INTO "Chat" (id, "createdAt", title, "userId", visibility)
        SELECT p_chat_id, p_at, p_title, p_user_id, p_visibility FROM admitted a
        WHERE a.f_owner IS NULL
    ), new_message AS (
        INSERT INTO "Message_v2" (id, "chatId", role, parts, attachments, "createdAt")
        SELECT p_message_id, p_chat_id, 'user', p_parts, '[]', p_at FROM admitted
    ), new_stream AS (
        INSERT INTO "Stream" (id, "chatId", "createdAt")
        SELECT p_stream_id, p_chat_id, p_at FROM admitted
    )
    SELECT 0, f.f_owner, f.f_sent, f.f_taken,
           NULL::uuid, NULL::varchar, NULL::text, NULL::timestamp
    FROM facts f
    UNION ALL (
        SELECT 1, NULL::uuid, NULL::bigint, NULL::boolean,
               m.id, m.role, m.parts::text, m."createdAt"
        FROM "Message_v2" m
        WHERE m."chatId" = p_chat_id AND p_user_id = (SELECT f.f_owner FROM facts f)
        ORDER BY m."createdAt" DESC, m.id DESC
        LIMIT p_history_limit
    );
END
$fn$
"""
_DROP = (
    "DROP FUNCTION IF EXISTS chatbot_api_admit_message(integer, integer, uuid, uuid, uuid, "
    "timestamp, integer, timestamp, text, varchar, json, uuid, integer)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
