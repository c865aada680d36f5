"""Exact daily message limits: the N-th message passes, the (N+1)-th is 429, even at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select

from chatbot_api.chats.models import Chat, Message, SentMessage
from chatbot_api.core.config import Settings
from chatbot_api.db.types import utcnow
from tests.chats.conftest import chat_body, live_server, send, turn_overrides
from tests.chats.helpers import count_rows, pg_locks_and_idle_transactions
from tests.factories import make_chat, make_message, make_user


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return turn_overrides(guest_max_messages_per_day=3, regular_max_messages_per_day=4)


async def _seed(app: FastAPI, user: Any, count: int, *, age: timedelta = timedelta()) -> Any:
    chat = await make_chat(app, user)
    for _ in range(count):
        await make_message(app, chat, created_at=utcnow() - age)
    return chat


@pytest.mark.parametrize(("user_type", "limit"), [("guest", 3), ("regular", 4)])
async def test_post_chat_nth_message_passes_and_next_is_429(
    db: Any, app: FastAPI, client: httpx.AsyncClient, user_type: Any, limit: int
) -> None:
    user = await make_user(app, user_type=user_type)
    chat = await _seed(app, user, limit - 1)
    response, chunks = await send(client, user, chat_body(chat_id=chat.id))
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"
    response, _ = await send(client, user, chat_body(chat_id=chat.id))
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limit:chat"
    assert int(response.headers["retry-after"]) > 0
    assert await count_rows(app, Message, role="user") == limit


async def test_post_chat_counts_only_the_last_24_hours_of_user_messages(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, user_type="guest")
    chat = await _seed(app, user, 5, age=timedelta(hours=24, minutes=1))
    await make_message(app, chat, role="assistant")
    await make_message(app, chat, role="assistant")
    for _ in range(3):
        response, _ = await send(client, user, chat_body(chat_id=chat.id))
        assert response.status_code == 200
    response, _ = await send(client, user, chat_body(chat_id=chat.id))
    assert response.status_code == 429


async def test_post_chat_limit_counts_messages_across_the_users_chats(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, user_type="guest")
    other = await make_user(app, user_type="guest")
    await _seed(app, user, 2)
    await _seed(app, other, 3)
    response, _ = await send(client, user, chat_body())
    assert response.status_code == 200
    response, _ = await send(client, user, chat_body())
    assert response.status_code == 429


async def test_post_chat_messages_of_a_deleted_chat_no_longer_count(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """As upstream's count (contract §3.4): the limit counts the user messages of the user's
    chats that still exist."""
    user = await make_user(app, user_type="guest")
    full = await _seed(app, user, 3)
    response, _ = await send(client, user, chat_body())
    assert response.status_code == 429
    response = await client.delete(f"/api/chat?id={full.id}", headers=user.headers)
    assert response.status_code == 200
    response, chunks = await send(client, user, chat_body())
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"


async def _sent_rows(app: FastAPI) -> list[tuple[Any, ...]]:
    async with app.state.session_factory() as session:
        rows = await session.execute(
            select(SentMessage.message_id, SentMessage.user_id).order_by(SentMessage.created_at)
        )
        return [tuple(row) for row in rows]


async def test_sent_messages_follow_every_writers_user_messages(db: Any, app: FastAPI) -> None:
    """What the limit counts is kept by the database for any writer (a plain INSERT, as the
    Next.js app does): each user message gets a row naming its chat's user; assistant
    messages none; rows older than 25 hours go at the user's next message; deleted messages
    take their rows with them."""
    user = await make_user(app)
    other = await make_user(app)
    chat = await make_chat(app, user)
    theirs = await make_chat(app, other)
    now = utcnow()

    async def write(chat: Any, role: str, age: timedelta) -> Any:
        row = {
            "id": uuid.uuid4(),
            "chat_id": chat.id,
            "role": role,
            "parts": [{"type": "text", "text": "hi"}],
            "attachments": [],
            "created_at": now - age,
        }
        async with app.state.engine.begin() as conn:
            await conn.execute(insert(Message).values(**row))
        return row["id"]

    stale = await write(chat, "user", timedelta(hours=26))
    assert await _sent_rows(app) == [(stale, user.id)]
    kept = await write(chat, "user", timedelta(hours=24, minutes=30))
    await write(chat, "assistant", timedelta(hours=1))
    assert await _sent_rows(app) == [(kept, user.id)]
    not_mine = await write(theirs, "user", timedelta(hours=30))
    fresh = await write(chat, "user", timedelta())
    assert await _sent_rows(app) == [(not_mine, other.id), (kept, user.id), (fresh, user.id)]

    async with app.state.engine.begin() as conn:
        await conn.execute(delete(Message).where(Message.chat_id == chat.id))
    assert await _sent_rows(app) == [(not_mine, other.id)]


async def test_post_chat_limit_rejection_writes_nothing(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, user_type="guest")
    await _seed(app, user, 3)
    body = chat_body()
    response, _ = await send(client, user, body)
    assert response.status_code == 429
    assert await count_rows(app, Message, role="user") == 3
    async with app.state.session_factory() as session:
        assert await session.get(Chat, uuid.UUID(body["id"])) is None


async def test_post_chat_simultaneous_requests_accept_exactly_the_limit(
    db: Any, app: FastAPI, settings: Settings
) -> None:
    """N+5 requests at the same moment over real HTTP: exactly N are accepted."""
    limit = 4
    user = await make_user(app)
    with live_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

            async def one() -> int:
                response = await http.post("/api/chat", json=chat_body(), headers=user.headers)
                await response.aread()
                return response.status_code

            statuses = await asyncio.gather(*(one() for _ in range(limit + 5)))
    assert sorted(statuses) == [200] * limit + [429] * 5
    assert await count_rows(app, Message, role="user") == limit


async def test_post_chat_refusals_release_the_lock_and_the_transaction(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """403 (another user's chat), 400 (message id taken) and 429 (limit) end the admission's
    transaction: the user's next message is admitted, nothing stays locked or open."""
    owner = await make_user(app)
    user = await make_user(app, user_type="guest")
    theirs = await make_chat(app, owner)
    mine = await _seed(app, user, 1)
    taken = await make_message(app, mine)

    response, _ = await send(client, user, chat_body(chat_id=theirs.id))
    assert response.status_code == 403
    body = chat_body(chat_id=mine.id)
    body["message"]["id"] = str(taken.id)
    response, _ = await send(client, user, body)
    assert response.status_code == 400
    if db.backend == "postgresql":
        assert await pg_locks_and_idle_transactions(app) == (0, 0)

    response, chunks = await asyncio.wait_for(send(client, user, chat_body(chat_id=mine.id)), 10)
    assert response.status_code == 200
    assert chunks[-1]["type"] == "finish"
    # 3 user messages today (seeded, taken, sent): the limit is reached
    response, _ = await send(client, user, chat_body(chat_id=mine.id))
    assert response.status_code == 429
    if db.backend == "postgresql":
        assert await pg_locks_and_idle_transactions(app) == (0, 0)
    assert await count_rows(app, Message, role="user") == 3
