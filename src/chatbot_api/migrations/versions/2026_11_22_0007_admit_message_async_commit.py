"""Ours, additive (PostgreSQL only): the admission of 0005/0006 in two functions, so that the
commit's WAL flush no longer delays the model request.

- `chatbot_api_admit_message_async_commit`: 0005's function (as 0006 left it) without the
  turn's "Stream" row, whose commit does not wait for the WAL flush (`synchronous_commit` off
  for its own transaction only: `set_config(..., true)` ends with it).
- `chatbot_api_message_durable`: under the same user lock, inserts the turn's "Stream" row if
  the admitted message is there (same id, chat and time) and says whether it did. Its commit
  waits for the flush as the session's `synchronous_commit` says, and a flush covers all the
  WAL before it: when it returns true, the message (and its new chat) are durable.

Why: the flush (an fsync) is the largest part of the admission's round trip on a machine at
rest (~0.3-0.6 ms of ~1 ms here). The app sends the second function on a second connection
right after the first: it waits on the user's lock, so it runs as soon as the admission
commits, while the app sends the conversation to the model. The reply reaches the client only
once it returned true: nothing is shown for a message that a crash could still lose. (Should
it take the lock first, it finds nothing; the app then calls it again.)

0005's function stays, unchanged: an app still running the previous release keeps calling it
during a rolling upgrade.

Revision ID: 0007_admit_message_async_commit
Revises: 0006_sent_message
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_admit_message_async_commit"
down_revision: str | None = "0006_sent_message"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = """
CREATE FUNCTION chatbot_api_admit_message_async_commit(
    lock_namespace integer, lock_key integer, p_chat_id uuid, p_user_id uuid,
    p_message_id uuid, p_since timestamp, p_max_per_day integer, p_at timestamp,
    p_title text, p_visibility varchar, p_parts json, p_history_limit integer
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
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH facts AS (
        SELECT
            (SELECT c."userId" FROM "Chat" c WHERE c.id = p_chat_id) AS f_owner,
            (SELECT count(*) FROM (
                SELECT 1 FROM "SentMessage" s
                WHERE s."userId" = p_user_id AND s."createdAt" >= p_since
                LIMIT p_max_per_day
             ) w) AS f_sent,
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
_CREATE_DURABLE = """
CREATE FUNCTION chatbot_api_message_durable(
    lock_namespace integer, lock_key integer, p_stream_id uuid, p_chat_id uuid,
    p_message_id uuid, p_at timestamp
)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, lock_key);
    INSERT INTO "Stream" (id, "chatId", "createdAt")
    SELECT p_stream_id, p_chat_id, p_at FROM "Message_v2" m
    WHERE m.id = p_message_id AND m."chatId" = p_chat_id AND m."createdAt" = p_at;
    RETURN FOUND;
END
$fn$
"""
_DROP = (
    "DROP FUNCTION IF EXISTS chatbot_api_admit_message_async_commit(integer, integer, uuid, "
    "uuid, uuid, timestamp, integer, timestamp, text, varchar, json, integer)"
)
_DROP_DURABLE = (
    "DROP FUNCTION IF EXISTS chatbot_api_message_durable(integer, integer, uuid, uuid, uuid, "
    "timestamp)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)
        op.execute(_CREATE_DURABLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP_DURABLE)
        op.execute(_DROP)
