-- The PostgreSQL schema exactly as the Next.js ai-chatbot app leaves it: its Drizzle migrations
-- 0000..0008 replayed step by step (so dropped columns, column order and constraint names are
-- what a real deployment has), plus Drizzle's own bookkeeping table with one row per migration.
-- Written for chatbot-api's tests from the contract (§3); not a copy of the upstream files.

-- Drizzle's migrator bookkeeping ------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS "drizzle";
CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (
    id SERIAL PRIMARY KEY,
    hash text NOT NULL,
    created_at bigint
);

-- 0000: users and chats (chats still hold a json "messages" blob) ----------------------------
CREATE TABLE IF NOT EXISTS "Chat" (
    "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    "createdAt" timestamp NOT NULL,
    "messages" json NOT NULL,
    "userId" uuid NOT NULL
);
CREATE TABLE IF NOT EXISTS "User" (
    "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    "email" varchar(64) NOT NULL,
    "password" varchar(64)
);
DO $$ BEGIN
    ALTER TABLE "Chat" ADD CONSTRAINT "Chat_userId_User_id_fk"
        FOREIGN KEY ("userId") REFERENCES "public"."User"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- 0001: suggestions and versioned documents ------------------------------------------------
CREATE TABLE IF NOT EXISTS "Suggestion" (
    "id" uuid DEFAULT gen_random_uuid() NOT NULL,
    "documentId" uuid NOT NULL,
    "documentCreatedAt" timestamp NOT NULL,
    "originalText" text NOT NULL,
    "suggestedText" text NOT NULL,
    "description" text,
    "isResolved" boolean DEFAULT false NOT NULL,
    "userId" uuid NOT NULL,
    "createdAt" timestamp NOT NULL,
    CONSTRAINT "Suggestion_id_pk" PRIMARY KEY ("id")
);
CREATE TABLE IF NOT EXISTS "Document" (
    "id" uuid DEFAULT gen_random_uuid() NOT NULL,
    "createdAt" timestamp NOT NULL,
    "title" text NOT NULL,
    "content" text,
    "userId" uuid NOT NULL,
    CONSTRAINT "Document_id_createdAt_pk" PRIMARY KEY ("id", "createdAt")
);
DO $$ BEGIN
    ALTER TABLE "Suggestion" ADD CONSTRAINT "Suggestion_userId_User_id_fk"
        FOREIGN KEY ("userId") REFERENCES "public"."User"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
-- PostgreSQL truncates this 65-character name to 63 bytes, as in every real deployment.
DO $$ BEGIN
    ALTER TABLE "Suggestion"
        ADD CONSTRAINT "Suggestion_documentId_documentCreatedAt_Document_id_createdAt_fk"
        FOREIGN KEY ("documentId", "documentCreatedAt")
        REFERENCES "public"."Document"("id", "createdAt")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    ALTER TABLE "Document" ADD CONSTRAINT "Document_userId_User_id_fk"
        FOREIGN KEY ("userId") REFERENCES "public"."User"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- 0002: first message and vote tables; chat titles; the json blob goes ----------------------
CREATE TABLE IF NOT EXISTS "Message" (
    "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    "chatId" uuid NOT NULL,
    "role" varchar NOT NULL,
    "content" json NOT NULL,
    "createdAt" timestamp NOT NULL
);
CREATE TABLE IF NOT EXISTS "Vote" (
    "chatId" uuid NOT NULL,
    "messageId" uuid NOT NULL,
    "isUpvoted" boolean NOT NULL,
    CONSTRAINT "Vote_chatId_messageId_pk" PRIMARY KEY ("chatId", "messageId")
);
ALTER TABLE "Chat" ADD COLUMN "title" text NOT NULL;
DO $$ BEGIN
    ALTER TABLE "Message" ADD CONSTRAINT "Message_chatId_Chat_id_fk"
        FOREIGN KEY ("chatId") REFERENCES "public"."Chat"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    ALTER TABLE "Vote" ADD CONSTRAINT "Vote_chatId_Chat_id_fk"
        FOREIGN KEY ("chatId") REFERENCES "public"."Chat"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    ALTER TABLE "Vote" ADD CONSTRAINT "Vote_messageId_Message_id_fk"
        FOREIGN KEY ("messageId") REFERENCES "public"."Message"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
ALTER TABLE "Chat" DROP COLUMN IF EXISTS "messages";

-- 0003: chat visibility ---------------------------------------------------------------------
ALTER TABLE "Chat" ADD COLUMN "visibility" varchar DEFAULT 'private' NOT NULL;

-- 0004: the artifact kind, in a column named "text" -----------------------------------------
ALTER TABLE "Document" ADD COLUMN "text" varchar DEFAULT 'text' NOT NULL;

-- 0005: messages as UI parts, and their votes ----------------------------------------------
CREATE TABLE IF NOT EXISTS "Message_v2" (
    "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    "chatId" uuid NOT NULL,
    "role" varchar NOT NULL,
    "parts" json NOT NULL,
    "attachments" json NOT NULL,
    "createdAt" timestamp NOT NULL
);
CREATE TABLE IF NOT EXISTS "Vote_v2" (
    "chatId" uuid NOT NULL,
    "messageId" uuid NOT NULL,
    "isUpvoted" boolean NOT NULL,
    CONSTRAINT "Vote_v2_chatId_messageId_pk" PRIMARY KEY ("chatId", "messageId")
);
DO $$ BEGIN
    ALTER TABLE "Message_v2" ADD CONSTRAINT "Message_v2_chatId_Chat_id_fk"
        FOREIGN KEY ("chatId") REFERENCES "public"."Chat"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    ALTER TABLE "Vote_v2" ADD CONSTRAINT "Vote_v2_chatId_Chat_id_fk"
        FOREIGN KEY ("chatId") REFERENCES "public"."Chat"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    ALTER TABLE "Vote_v2" ADD CONSTRAINT "Vote_v2_messageId_Message_v2_id_fk"
        FOREIGN KEY ("messageId") REFERENCES "public"."Message_v2"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- 0006: resumable stream ids ---------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "Stream" (
    "id" uuid DEFAULT gen_random_uuid() NOT NULL,
    "chatId" uuid NOT NULL,
    "createdAt" timestamp NOT NULL,
    CONSTRAINT "Stream_id_pk" PRIMARY KEY ("id")
);
DO $$ BEGIN
    ALTER TABLE "Stream" ADD CONSTRAINT "Stream_chatId_Chat_id_fk"
        FOREIGN KEY ("chatId") REFERENCES "public"."Chat"("id")
        ON DELETE NO ACTION ON UPDATE NO ACTION;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- 0007 and 0008: a token-usage cache column on chats, added and dropped again ----------------
ALTER TABLE "Chat" ADD COLUMN "lastContext" jsonb;
ALTER TABLE "Chat" DROP COLUMN IF EXISTS "lastContext";

-- One bookkeeping row per applied migration: sha256 of the migration file, journal timestamp.
INSERT INTO "drizzle"."__drizzle_migrations" (hash, created_at) VALUES
    ('6507b708abed877087c2436107f0c4f5ead94bccad9173fc62bd1bd0f2d97071', 1728598022383),
    ('18764b56ff99235f4d56ae0ec39207cb60df14aeeba9545fbbc49eecd0de10a0', 1730207363999),
    ('2033f25b81f2c809949ad34badd70ec88c4f62618fa927603c35e9d377de0731', 1730725226313),
    ('b34ea738ee17b204c6127a722cb672638842536a1ed8b824b18d5715294f3408', 1733403031014),
    ('cca66219a963b908313daa0918f643c367abed20fcefac235d5df28b5b31cb6b', 1733945232355),
    ('7d057bfade9e6aebee2e4ea02e33fd8426c35902de3f3489659320480fe46c8a', 1741934630596),
    ('6a30552023ba8ef25142e5d338fb36f31c55850d6368aba4b47f1891bf8ec6dd', 1746118166211),
    ('3cd2d07d24d6c466ba3c6bcba213ddf5e9e5f93fb0c82be9bbaa1c7788c3366d', 1757362773211),
    ('91b47413f2bb010c75221ffcae2aaf1207b9628091beb1ae2ab7721914d285fd', 1768479010084);
