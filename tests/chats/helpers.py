"""Helpers for the chats tests: votes, streams, legacy rows, usage rows, row counts and a
counter of the SQL statements a request sends to the chat tables."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, func, select, text

from chatbot_api.chats.models import (
    Chat,
    LegacyMessage,
    LegacyVote,
    Message,
    MessageUsage,
    Stream,
    Vote,
)
from chatbot_api.chats.turn.admission import Admission, AdmissionAsk, Admitted
from chatbot_api.db.types import utcnow

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CHAT_TABLES = re.compile(r'"(Chat|Message_v2|Vote_v2|Stream|Message|Vote)"')


async def add(app: FastAPI, *rows: Any) -> None:
    async with app.state.session_factory() as session:
        session.add_all(rows)
        await session.commit()


async def make_vote(app: FastAPI, message: Message, *, up: bool = True) -> Vote:
    vote = Vote(chat_id=message.chat_id, message_id=message.id, is_upvoted=up)
    await add(app, vote)
    return vote


async def make_stream(app: FastAPI, chat: Chat) -> Stream:
    stream = Stream(id=uuid.uuid4(), chat_id=chat.id, created_at=utcnow())
    await add(app, stream)
    return stream


async def make_legacy_rows(app: FastAPI, chat: Chat) -> None:
    """A pre-parts `"Message"` with a `"Vote"` (as an old Next.js database may hold)."""
    message = LegacyMessage(
        id=uuid.uuid4(), chat_id=chat.id, role="user", content="hi", created_at=utcnow()
    )
    await add(app, message)
    await add(app, LegacyVote(chat_id=chat.id, message_id=message.id, is_upvoted=True))


async def make_usage(app: FastAPI, message: Message, user_id: uuid.UUID) -> None:
    await add(
        app,
        MessageUsage(
            message_id=message.id,
            chat_id=message.chat_id,
            user_id=user_id,
            model_id="demo",
            input_tokens=1,
            output_tokens=2,
        ),
    )


async def count_rows(app: FastAPI, model: Any, **where: Any) -> int:
    statement = select(func.count()).select_from(model)
    for name, value in where.items():
        statement = statement.where(getattr(model, name) == value)
    async with app.state.session_factory() as session:
        return int(await session.scalar(statement) or 0)


def at(seconds: int, ms: int = 0) -> datetime:
    """A fixed UTC timestamp, `seconds` after a base instant."""
    return datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC) + timedelta(seconds=seconds, milliseconds=ms)


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def chat_statements(self) -> list[str]:
        return [sql for sql in self.statements if CHAT_TABLES.search(sql)]


@contextmanager
def count_statements(app: FastAPI) -> Iterator[StatementLog]:
    """Record the SQL statements executed on the app's engine inside the block."""
    log = StatementLog()
    engine = app.state.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", record)


def admission_ask(user: Any, chat_id: uuid.UUID, **fields: Any) -> AdmissionAsk:
    """An admission's ask for a new message in `chat_id` (unless `fields` say otherwise);
    `user` is a TestUser or a user id."""
    values: dict[str, Any] = {
        "user_id": user if isinstance(user, uuid.UUID) else user.id,
        "chat_id": chat_id,
        "stream_id": uuid.uuid4(),
        "created_at": utcnow(),
        "visibility": "private",
        "max_per_day": 10,
        "history_limit": 10,
        "message_id": uuid.uuid4(),
        "parts": [{"type": "text", "text": "Hello"}],
    }
    values.update(fields)
    return AdmissionAsk(**values)


async def count(app: FastAPI, model: Any, *where: Any) -> int:
    """Rows of `model` matching `where`."""
    async with app.state.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def admitted_durably(admission: Admission, request: AdmissionAsk) -> Admitted:
    """Admit, and wait until the turn's rows are durable (PostgreSQL's function)."""
    admitted = await admission.admit(request)
    if admitted.durable is not None:
        await admitted.durable
    return admitted


async def pg_locks_and_idle_transactions(app: FastAPI) -> tuple[int, int]:
    """Advisory locks held and sessions idle in a transaction, in the app's own database."""
    async with app.state.engine.connect() as conn:
        locks = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        idle = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            )
        )
    return int(locks), int(idle)
