"""Rows shaped exactly like the Next.js ai-chatbot app writes them, for the legacy fixture."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA_SQL = (Path(__file__).parent / "nextjs_schema.sql").read_text()


@dataclass(frozen=True)
class LegacyUser:
    id: uuid.UUID
    email: str
    password: str  # the plain password; `hash` was made by bcrypt-ts 5.0.3 (genSaltSync(10))
    hash: str


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


def _at(text: str) -> datetime:
    """A naive UTC timestamp at millisecond precision, as the app stores `new Date()`."""
    return datetime.fromisoformat(text)


ADA = LegacyUser(
    _id(1),
    "ada@example.com",
    "ada-lovelace-1815",
    "$2a$10$IYWbC2u1xikC7pP.KRu0.OGVnFEgTtn5O0ntIssaGDsFtbmlSBPyG",
)
GRACE = LegacyUser(
    _id(2),
    "grace@example.com",
    "grace hopper ∞ cobol",
    "$2a$10$ykb/cSYi6L1j3hOPl99exOawJ6ndz0T4sWVDdEuh1VVZqXsEhosxS",
)
# createGuestUser(): "guest-" + Date.now(), password = bcrypt of a random UUID nobody knows.
GUEST = LegacyUser(
    _id(3),
    "guest-1762000123456",
    "d73762ab-8126-4926-8fe0-64eb6204f09c",
    "$2a$10$FQSn/vM/6GVkW3u5K6G22.U5sJU0vBQ6AEz2b1LddFhAeBeFrYEV6",
)
USERS = (ADA, GRACE, GUEST)

WEATHER_CHAT = _id(101)  # Ada's, private
ESSAY_CHAT = _id(102)  # Ada's, public
GRACE_CHAT = _id(103)  # Grace's, private, with pre-parts rows in the deprecated tables
GUEST_CHAT = _id(104)

# (id, createdAt, title, userId, visibility)
CHATS = (
    (WEATHER_CHAT, _at("2025-11-01 09:15:02.123"), "Weather in Paris", ADA.id, "private"),
    (ESSAY_CHAT, _at("2025-11-02 18:40:11.007"), "Essay on compilers", ADA.id, "public"),
    (GRACE_CHAT, _at("2024-10-20 08:00:00.500"), "COBOL memories", GRACE.id, "private"),
    (GUEST_CHAT, _at("2025-11-03 12:00:00.000"), "New chat", GUEST.id, "private"),
)

WEATHER_OUTPUT = {
    "latitude": 48.86,
    "longitude": 2.3399997,
    "generationtime_ms": 0.04,
    "utc_offset_seconds": 3600,
    "timezone": "Europe/Paris",
    "timezone_abbreviation": "GMT+1",
    "elevation": 43.0,
    "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C"},
    "current": {"time": "2025-11-01T10:15", "interval": 900, "temperature_2m": 13.8},
    "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
    "hourly": {"time": ["2025-11-01T00:00", "2025-11-01T01:00"], "temperature_2m": [9.1, 8.7]},
    "daily_units": {"time": "iso8601", "sunrise": "iso8601", "sunset": "iso8601"},
    "daily": {
        "time": ["2025-11-01"],
        "sunrise": ["2025-11-01T07:33"],
        "sunset": ["2025-11-01T17:31"],
    },
    "cityName": "Paris",
}

ASK_WEATHER = _id(201)
WEATHER_ANSWER = _id(202)
ASK_ESSAY = _id(203)
ESSAY_ANSWER = _id(204)
GUEST_HELLO = _id(205)

DOCUMENT = _id(301)
DOCUMENT_VERSIONS = (
    _at("2025-11-02 18:40:20.101"),
    _at("2025-11-02 18:45:03.250"),
    _at("2025-11-02 19:02:59.999"),
)
DOCUMENT_CONTENTS = (
    "# Compilers\n\nA compiler translates programs.",
    "# Compilers\n\nA compiler translates source programs into machine code.",
    "# Compilers\n\nA compiler translates source programs into machine code, in phases.",
)

# (id, chatId, role, parts, createdAt); attachments is always [] at HEAD.
MESSAGES: tuple[tuple[uuid.UUID, uuid.UUID, str, list[dict[str, Any]], datetime], ...] = (
    (
        ASK_WEATHER,
        WEATHER_CHAT,
        "user",
        [
            {
                "type": "file",
                "mediaType": "image/png",
                "filename": "paris.png",
                "url": "https://abc123.public.blob.vercel-storage.com/paris-Xy12.png",
            },
            {"type": "text", "text": "What's the weather in Paris right now?"},
        ],
        _at("2025-11-01 09:15:02.140"),
    ),
    (
        WEATHER_ANSWER,
        WEATHER_CHAT,
        "assistant",
        [
            {"type": "step-start"},
            {
                "type": "reasoning",
                "text": "The user wants current weather; call the tool.",
                "state": "done",
            },
            {
                "type": "tool-getWeather",
                "toolCallId": "call_0Hk2pQ7mWeather",
                "state": "output-available",
                "input": {"city": "Paris"},
                "output": WEATHER_OUTPUT,
            },
            {"type": "step-start"},
            {"type": "text", "text": "It is 13.8 °C in Paris right now.", "state": "done"},
            {"type": "data-chat-title", "data": "Weather in Paris"},
        ],
        _at("2025-11-01 09:15:06.871"),
    ),
    (
        ASK_ESSAY,
        ESSAY_CHAT,
        "user",
        [{"type": "text", "text": "Write a short essay about compilers"}],
        _at("2025-11-02 18:40:11.020"),
    ),
    (
        ESSAY_ANSWER,
        ESSAY_CHAT,
        "assistant",
        [
            {"type": "step-start"},
            {
                "type": "tool-createDocument",
                "toolCallId": "call_7dDocCreate",
                "state": "output-available",
                "input": {"title": "Compilers", "kind": "text"},
                "output": {
                    "id": str(DOCUMENT),
                    "title": "Compilers",
                    "kind": "text",
                    "content": "A document was created and is now visible to the user.",
                },
            },
            {"type": "step-start"},
            {"type": "text", "text": "I wrote the essay in the document.", "state": "done"},
        ],
        _at("2025-11-02 18:40:21.412"),
    ),
    (
        GUEST_HELLO,
        GUEST_CHAT,
        "user",
        [{"type": "text", "text": "hello"}],
        _at("2025-11-03 12:00:00.015"),
    ),
)

# (chatId, messageId, isUpvoted)
VOTES = ((WEATHER_CHAT, WEATHER_ANSWER, True), (ESSAY_CHAT, ESSAY_ANSWER, False))

SUGGESTIONS = (
    (
        _id(401),
        "A compiler translates source programs",
        "A compiler translates programs written in a source language",
        "Name what is being translated",
    ),
    (_id(402), "machine code", "machine code or bytecode", None),
)

SUGGESTED_AT = _at("2025-11-02 18:46:00.000")
OLD_MESSAGE = _id(501)  # a pre-parts row in the deprecated "Message" table


async def insert_legacy_data(conn: Any) -> None:
    """Insert every row with plain SQL on an asyncpg connection, like Drizzle would."""
    await conn.executemany(
        'INSERT INTO "User" (id, email, password) VALUES ($1, $2, $3)',
        [(u.id, u.email, u.hash) for u in USERS],
    )
    await conn.executemany(
        'INSERT INTO "Chat" (id, "createdAt", title, "userId", visibility) '
        "VALUES ($1, $2, $3, $4, $5)",
        CHATS,
    )
    await conn.executemany(
        'INSERT INTO "Message_v2" (id, "chatId", role, parts, attachments, "createdAt") '
        "VALUES ($1, $2, $3, $4::json, '[]'::json, $5)",
        [(m[0], m[1], m[2], json.dumps(m[3]), m[4]) for m in MESSAGES],
    )
    await conn.executemany(
        'INSERT INTO "Vote_v2" ("chatId", "messageId", "isUpvoted") VALUES ($1, $2, $3)', VOTES
    )
    await conn.executemany(
        'INSERT INTO "Document" (id, "createdAt", title, content, text, "userId") '
        "VALUES ($1, $2, 'Compilers', $3, 'text', $4)",
        [
            (DOCUMENT, at, body, ADA.id)
            for at, body in zip(DOCUMENT_VERSIONS, DOCUMENT_CONTENTS, strict=True)
        ],
    )
    await conn.executemany(
        'INSERT INTO "Suggestion" (id, "documentId", "documentCreatedAt", "originalText", '
        '"suggestedText", description, "userId", "createdAt") '
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                sid,
                DOCUMENT,
                DOCUMENT_VERSIONS[1],
                old,
                new,
                why,
                ADA.id,
                _at("2025-11-02 18:46:00.000"),
            )
            for sid, old, new, why in SUGGESTIONS
        ],
    )
    await conn.execute(
        'INSERT INTO "Message" (id, "chatId", role, content, "createdAt") '
        "VALUES ($1, $2, 'user', $3::json, $4)",
        OLD_MESSAGE,
        GRACE_CHAT,
        json.dumps("Do you remember COBOL?"),
        _at("2024-10-20 08:00:01.000"),
    )
    await conn.execute(
        'INSERT INTO "Vote" ("chatId", "messageId", "isUpvoted") VALUES ($1, $2, true)',
        GRACE_CHAT,
        OLD_MESSAGE,
    )
    await conn.execute(
        'INSERT INTO "Stream" (id, "chatId", "createdAt") VALUES ($1, $2, $3)',
        _id(601),
        WEATHER_CHAT,
        _at("2025-11-01 09:15:02.200"),
    )
