"""The admission when its database connection dies under it (PostgreSQL): a 503, nothing
written, the connection thrown away, and the next admission works; for both implementations."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from chatbot_api.chats.models import Message
from chatbot_api.chats.turn import store
from chatbot_api.chats.turn.admission import Admission
from chatbot_api.core.errors import AppError
from tests.chats.helpers import admission_ask as ask
from tests.chats.helpers import admitted_durably, count
from tests.conftest import TestDatabase
from tests.factories import make_user

pytestmark = pytest.mark.parametrize(
    ("database", "kind"),
    [
        pytest.param("postgresql", "portable", id="portable-postgresql"),
        pytest.param("postgresql", "function", id="function-postgresql"),
    ],
    indirect=["database"],
)


async def _waiting_for_the_lock(app: FastAPI) -> int:
    """The backend pid of the admission waiting for the user's advisory lock (each look in
    a transaction of its own: the statistics views keep one snapshot per transaction)."""
    for _ in range(200):
        async with app.state.engine.connect() as conn:
            pid = await conn.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.01)
    raise AssertionError("no admission waits for the lock")


async def test_a_connection_lost_during_the_admission_is_a_503_and_discarded(
    db: TestDatabase, app: FastAPI, admission: Admission
) -> None:
    user = await make_user(app)
    await admitted_durably(admission, ask(user, uuid.uuid4()))
    raw = db.url.replace("postgresql+asyncpg", "postgresql")
    blocker = await asyncpg.connect(raw)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            store.USER_LOCK_NAMESPACE,
            store.user_lock_key(user.id),
        )
        lost = asyncio.ensure_future(admission.admit(ask(user, uuid.uuid4())))
        backend = await _waiting_for_the_lock(app)
        await blocker.execute(f"SELECT pg_terminate_backend({backend})")
        with pytest.raises(AppError) as caught:
            await lost
    finally:
        await blocker.close()
    assert caught.value.status == 503
    assert app.state.engine.pool.checkedout() == 0
    await admitted_durably(admission, ask(user, uuid.uuid4()))
    assert await count(app, Message) == 2  # the lost call wrote nothing
