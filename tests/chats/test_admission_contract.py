"""One contract for every admission: the portable one (SQLite and PostgreSQL) and the
PostgreSQL one-round-trip function are held to the same rules, the same answers and the same
rows written; any disagreement fails here."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from chatbot_api.ai.tools import CHAT_TOOLS
from chatbot_api.chats.models import Chat, Message, Stream
from chatbot_api.chats.turn.admission import (
    NOT_REGENERABLE,
    TAKEN,
    Admission,
    AdmissionAsk,
)
from chatbot_api.cloud.models import CloudThread
from chatbot_api.core.errors import AppError
from chatbot_api.db.types import utcnow
from tests.chats.helpers import admission_ask as ask
from tests.chats.helpers import admitted_durably, count, pg_locks_and_idle_transactions
from tests.factories import TestUser, make_chat, make_message, make_user

IMPLEMENTATIONS = [
    pytest.param("sqlite", "portable", id="portable-sqlite"),
    pytest.param("postgresql", "portable", id="portable-postgresql"),
    pytest.param("postgresql", "function", id="function-postgresql"),
]
pytestmark = pytest.mark.parametrize(("database", "kind"), IMPLEMENTATIONS, indirect=["database"])


async def refused(admission: Admission, request: AdmissionAsk) -> AppError:
    with pytest.raises(AppError) as caught:
        await admission.admit(request)
    return caught.value


async def rows_written(app: FastAPI) -> tuple[int, int, int]:
    return (await count(app, Chat), await count(app, Message), await count(app, Stream))


async def test_a_new_chat_is_created_with_its_message_and_stream(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    chat_id = uuid.uuid4()
    request = ask(user, chat_id, visibility="public")
    admitted = await admitted_durably(admission, request)
    assert (admitted.new_chat, admitted.history, admitted.continuing) == (True, [], None)
    async with app.state.session_factory() as session:
        chat = await session.get(Chat, chat_id)
        message = await session.get(Message, request.message_id)
        stream = await session.get(Stream, request.stream_id)
    assert chat is not None
    assert (chat.user_id, chat.title, chat.visibility) == (user.id, "New chat", "public")
    assert message is not None
    assert (message.chat_id, message.role, message.parts) == (chat_id, "user", request.parts)
    assert stream is not None
    assert stream.chat_id == chat_id


async def test_the_users_chat_brings_its_last_messages_oldest_first(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user, visibility="private")
    start = utcnow() - timedelta(minutes=5)
    for index in range(5):
        role = "user" if index % 2 == 0 else "assistant"
        await make_message(
            app, chat, role=role, text=f"m{index}", created_at=start + timedelta(seconds=index)
        )
    admitted = await admitted_durably(
        admission, ask(user, chat.id, history_limit=3, visibility="public")
    )
    assert not admitted.new_chat
    assert [(role, parts[0]["text"]) for _, role, parts, _ in admitted.history] == [
        ("user", "m2"),
        ("assistant", "m3"),
        ("user", "m4"),
    ]
    assert await count(app, Chat, Chat.visibility == "private") == 1  # an existing chat's stays


@pytest.mark.parametrize("visibility", ["private", "public"])
async def test_another_users_chat_is_refused_and_nothing_is_written(
    app: FastAPI, admission: Admission, visibility: str
) -> None:
    owner, intruder = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, visibility=visibility)
    before = await rows_written(app)
    error = await refused(admission, ask(intruder, chat.id))
    assert (error.status, error.code) == (403, "forbidden:chat")
    assert await rows_written(app) == before


async def _thread(app: FastAPI, user: TestUser) -> uuid.UUID:
    thread = CloudThread(id=uuid.uuid4(), user_id=user.id, title="A thread")
    async with app.state.session_factory() as session:
        session.add(thread)
        await session.commit()
    return thread.id


async def test_another_users_cloud_thread_id_cannot_be_taken_as_a_chat(
    app: FastAPI, admission: Admission
) -> None:
    owner, squatter = await make_user(app), await make_user(app)
    thread_id = await _thread(app, owner)
    error = await refused(admission, ask(squatter, thread_id))
    assert (error.status, error.code) == (403, "forbidden:chat")
    assert await rows_written(app) == (0, 0, 0)
    admitted = await admitted_durably(admission, ask(owner, thread_id))  # its owner's first message
    assert admitted.new_chat
    assert await count(app, Chat, Chat.id == thread_id, Chat.user_id == owner.id) == 1


async def test_the_daily_limit_counts_every_chat_and_says_when_it_frees_up(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    limit = 4
    for index in range(limit):  # two chats: the count spans them
        await admitted_durably(
            admission, ask(user, uuid.uuid4() if index % 2 else uuid.UUID(int=1))
        )
    before = await rows_written(app)
    error = await refused(admission, ask(user, uuid.uuid4(), max_per_day=limit))
    assert (error.status, error.code) == (429, "rate_limit:chat")
    retry_after = int(error.headers["Retry-After"])
    assert 24 * 3600 - 60 < retry_after <= 24 * 3600 + 1
    assert await rows_written(app) == before
    await admitted_durably(
        admission, ask(user, uuid.uuid4(), max_per_day=limit + 1)
    )  # one more allowed


async def test_a_taken_message_id_is_refused_and_nothing_is_written(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    existing = await make_message(app, chat)
    before = await rows_written(app)
    error = await refused(admission, ask(user, uuid.uuid4(), message_id=existing.id))
    assert (error.status, error.code, error.cause) == (400, "bad_request:database", TAKEN)
    assert await rows_written(app) == before


async def test_a_regenerate_replaces_the_message_and_what_followed(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    start = utcnow() - timedelta(minutes=1)
    first = await make_message(app, chat, text="first", created_at=start)
    edited = await make_message(app, chat, text="old", created_at=start + timedelta(seconds=1))
    await make_message(app, chat, role="assistant", created_at=start + timedelta(seconds=2))
    parts = [{"type": "text", "text": "new"}]
    request = ask(user, chat.id, message_id=edited.id, parts=parts, replaces=True, max_per_day=2)
    admitted = await admitted_durably(
        admission, request
    )  # at the limit, but the edit frees its place
    assert [row[0] for row in admitted.history] == [first.id]
    async with app.state.session_factory() as session:
        stored = list(
            await session.scalars(
                select(Message).where(Message.chat_id == chat.id).order_by(Message.created_at)
            )
        )
    assert [(m.id, m.parts) for m in stored] == [(first.id, first.parts), (edited.id, parts)]


async def test_a_regenerate_of_another_chats_message_is_refused(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    elsewhere = await make_message(app, await make_chat(app, user))
    chat = await make_chat(app, user)
    before = await rows_written(app)
    error = await refused(admission, ask(user, chat.id, message_id=elsewhere.id, replaces=True))
    assert (error.status, error.cause) == (400, NOT_REGENERABLE)
    assert await rows_written(app) == before


PENDING = {
    "type": "tool-getWeather",
    "toolCallId": "call-1",
    "state": "approval-requested",
    "input": {"city": "Paris"},
    "approval": {"id": "approval-1"},
}
ANSWER = {
    **PENDING,
    "state": "approval-responded",
    "approval": {"id": "approval-1", "approved": True},
}


def continuation(user: TestUser, chat_id: uuid.UUID, reply_id: uuid.UUID) -> AdmissionAsk:
    return ask(
        user,
        chat_id,
        message_id=None,
        parts=None,
        continues=reply_id,
        answers=(ANSWER,),
        tools=CHAT_TOOLS,
    )


async def test_a_continuation_applies_the_answers_and_adds_no_message(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    question = await make_message(app, chat, text="Weather?")
    reply = await make_message(app, chat, role="assistant", parts=[PENDING])
    admitted = await admitted_durably(admission, continuation(user, chat.id, reply.id))
    assert admitted.continuing is not None
    assert admitted.continuing["id"] == str(reply.id)
    assert admitted.continuing["parts"][0]["state"] == "approval-responded"
    assert [row[0] for row in admitted.history] == [question.id]
    assert await count(app, Message) == 2
    assert await count(app, Stream) == 1
    error = await refused(admission, continuation(user, chat.id, reply.id))
    assert error.status == 400  # answered once: nothing is left to continue with


async def test_a_continuation_of_a_missing_or_foreign_chat_is_refused(
    app: FastAPI, admission: Admission
) -> None:
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner)
    reply = await make_message(app, chat, role="assistant", parts=[PENDING])
    missing = await refused(admission, continuation(owner, uuid.uuid4(), reply.id))
    foreign = await refused(admission, continuation(other, chat.id, reply.id))
    assert (missing.status, missing.code) == (404, "not_found:chat")
    assert (foreign.status, foreign.code) == (403, "forbidden:chat")
    assert await count(app, Stream) == 0


async def test_simultaneous_messages_never_pass_the_limit(
    app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    limit = 3

    async def one(index: int) -> int:
        try:
            await admitted_durably(admission, ask(user, uuid.uuid4(), max_per_day=limit))
        except AppError as error:
            return error.status
        return 200

    statuses = await asyncio.gather(*(one(i) for i in range(limit + 5)))
    assert sorted(statuses) == [200] * limit + [429] * 5
    assert await count(app, Message) == limit


async def test_admissions_leave_no_lock_or_transaction_behind(
    app: FastAPI, admission: Admission, database: Any
) -> None:
    """Admitted or refused, each admission has committed (or rolled back) and released the
    user's lock when it returns (PostgreSQL: counted in this test's own database only)."""
    user, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, user)
    await admitted_durably(admission, ask(user, chat.id))
    await refused(admission, ask(other, chat.id))
    await refused(admission, ask(user, uuid.uuid4(), max_per_day=1))
    if database.backend == "postgresql":
        assert await pg_locks_and_idle_transactions(app) == (0, 0)
    else:
        async with app.state.session_factory() as session:  # the write lock is free
            await session.execute(text("BEGIN IMMEDIATE"))
            await session.rollback()
