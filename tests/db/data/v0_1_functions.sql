-- The functions a chatbot-api 0.1 database holds at revision 0007 (PostgreSQL), as its
-- migrations 0005-0007 created them; tests/db/test_migrate.py upgrades such a database.

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
$fn$;

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
$fn$;

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
$fn$;

