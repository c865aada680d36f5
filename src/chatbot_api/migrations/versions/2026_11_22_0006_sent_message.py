"""Ours, additive: "SentMessage", the user messages of the last day, so that the daily limit
counts one index range instead of probing every chat of the user.

Before, the count looked into each of the user's chats: one index probe per chat, ~1.4 µs
each, so ~14 ms for a user with 10,000 chats, in every admission and under the user's lock.
Now each user message has a row here (the message id, its chat's user, its time), and the
count reads the user's rows since the window's start: at most the limit's worth.

- An `AFTER INSERT` trigger on "Message_v2" (user messages only) adds the row. Every writer is
  covered: ours, and the Next.js app writing to the same database.
- The same trigger deletes the user's rows older than 25 hours (the window is 24; the hour
  covers clocks that differ), so the table holds about one day of messages.
- Rows cascade from "Message_v2": a deleted chat's messages stop counting, as before.
- The backfill copies the user messages of the last 25 hours. On PostgreSQL it runs after
  the trigger is created, in the same transaction: no message can fall between the two.
- The admission (0008's function) counts from here.

Revision ID: 0006_sent_message
Revises: 0005_admit_message_function
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatbot_api.db.types import UTCDateTime

revision: str = "0006_sent_message"
down_revision: str | None = "0005_admit_message_function"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_CUTOFF = "(now() AT TIME ZONE 'UTC') - interval '25 hours'"
_SQLITE_CUTOFF = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-25 hours')"

_PG_TRIGGER_FUNCTION = """
CREATE FUNCTION chatbot_api_record_sent_message() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    sender uuid;
BEGIN
    SELECT c."userId" INTO sender FROM "Chat" c WHERE c.id = NEW."chatId";
    DELETE FROM "SentMessage" s WHERE s."userId" = sender AND s."createdAt" < {cutoff};
    INSERT INTO "SentMessage" ("messageId", "userId", "createdAt")
    VALUES (NEW.id, sender, NEW."createdAt");
    RETURN NULL;
END
$fn$
"""
_PG_TRIGGER = """
CREATE TRIGGER "Message_v2_sentMessage" AFTER INSERT ON "Message_v2"
FOR EACH ROW WHEN (NEW.role = 'user') EXECUTE FUNCTION chatbot_api_record_sent_message()
"""
_SQLITE_TRIGGER = """
CREATE TRIGGER "Message_v2_sentMessage" AFTER INSERT ON "Message_v2"
FOR EACH ROW WHEN NEW.role = 'user'
BEGIN
    DELETE FROM "SentMessage"
    WHERE "userId" = (SELECT c."userId" FROM "Chat" c WHERE c.id = NEW."chatId")
      AND "createdAt" < {cutoff};
    INSERT INTO "SentMessage" ("messageId", "userId", "createdAt")
    SELECT NEW.id, c."userId", NEW."createdAt" FROM "Chat" c WHERE c.id = NEW."chatId";
END
"""
_BACKFILL = """
INSERT INTO "SentMessage" ("messageId", "userId", "createdAt")
SELECT m.id, c."userId", m."createdAt" FROM "Message_v2" m JOIN "Chat" c ON c.id = m."chatId"
WHERE m.role = 'user' AND m."createdAt" >= {cutoff}
"""


def upgrade() -> None:
    op.create_table(
        "SentMessage",
        sa.Column("messageId", sa.Uuid(), nullable=False),
        sa.Column("userId", sa.Uuid(), nullable=False),
        sa.Column("createdAt", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("messageId", name="SentMessage_messageId_pk"),
        sa.ForeignKeyConstraint(
            ["messageId"],
            ["Message_v2.id"],
            name="SentMessage_messageId_Message_v2_id_fk",
            ondelete="CASCADE",
        ),
    )
    op.create_index("SentMessage_userId_createdAt_idx", "SentMessage", ["userId", "createdAt"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_TRIGGER_FUNCTION.format(cutoff=_PG_CUTOFF))
        op.execute(_PG_TRIGGER)  # waits for writers in flight, then holds theirs off
        op.execute(_BACKFILL.format(cutoff=_PG_CUTOFF))
    else:
        op.execute(_SQLITE_TRIGGER.format(cutoff=_SQLITE_CUTOFF))
        op.execute(_BACKFILL.format(cutoff=_SQLITE_CUTOFF))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('DROP TRIGGER IF EXISTS "Message_v2_sentMessage" ON "Message_v2"')
        op.execute("DROP FUNCTION IF EXISTS chatbot_api_record_sent_message()")
    else:
        op.execute('DROP TRIGGER IF EXISTS "Message_v2_sentMessage"')
    op.drop_index("SentMessage_userId_createdAt_idx", table_name="SentMessage")
    op.drop_table("SentMessage")
