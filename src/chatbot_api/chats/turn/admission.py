"""Whether a turn may go ahead: the rules, once (`refuse`), and the Admission seam with its
portable implementation (SQLAlchemy, on SQLite and PostgreSQL); admission_pg.py holds the
PostgreSQL one-round-trip one, which keeps to the same rules."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.ai.tools import Tool
from chatbot_api.chats.models import Message
from chatbot_api.chats.turn import store
from chatbot_api.chats.turn.approvals import apply_answers
from chatbot_api.chats.turn.store import AdmissionFacts, HistoryRow
from chatbot_api.core.errors import (
    AppError,
    BadRequest,
    ChatForbidden,
    ChatNotFound,
    DatabaseError,
    RateLimited,
)
from chatbot_api.db.errors import DATABASE_ERRORS, database_error
from chatbot_api.db.types import iso_ms

TAKEN = "A message with this id already exists."
NOT_REGENERABLE = "messages: the message to regenerate is not a user message of this chat"


@dataclass(frozen=True, slots=True)
class AdmissionAsk:
    """What a turn asks the database for: a new user message (`message_id`, `parts`), or the
    continuation of a stored assistant message (`continues`) with the client's `answers`."""

    user_id: uuid.UUID
    chat_id: uuid.UUID
    stream_id: uuid.UUID
    created_at: datetime
    visibility: str  # of a new chat
    max_per_day: int
    history_limit: int  # stored messages to bring back as context (0: the client's are)
    message_id: uuid.UUID | None = None
    parts: list[dict[str, Any]] | None = None
    replaces: bool = False  # the message may replace a stored one with its id (regenerate)
    continues: uuid.UUID | None = None
    answers: tuple[dict[str, Any], ...] = ()
    tools: Mapping[str, Tool] | None = None  # the turn's tools (frontend results apply)

    @property
    def since(self) -> datetime:
        return self.created_at - store.WINDOW


@dataclass(frozen=True, slots=True)
class Admitted:
    """An admitted turn: its stored context (oldest first, the new message not included), the
    stored assistant message it continues (the client's answers applied), and `durable`: when
    set, the turn's rows are committed but durable only once it resolves (it raises if they
    could not be made so); the turn shows nothing of its reply before."""

    new_chat: bool
    history: list[HistoryRow]
    continuing: dict[str, Any] | None = None
    durable: asyncio.Future[None] | None = None


def refuse(facts: AdmissionFacts, ask: AdmissionAsk) -> AppError | None:
    """Why the turn may not go ahead, or None. In order: the conversation is someone else's
    (403), there is nothing to continue (404), the daily limit (429, Retry-After from the
    window's oldest message), the message id is taken (400)."""
    if facts.owner is not None and facts.owner != ask.user_id:
        return ChatForbidden()
    if ask.message_id is None:
        return None if facts.chat_exists else ChatNotFound()
    if facts.sent - facts.freed >= ask.max_per_day:
        oldest = facts.oldest_sent
        wait = (oldest + store.WINDOW - ask.created_at).total_seconds() if oldest else 3600
        return RateLimited(int(wait) + 1, code="rate_limit:chat")
    taken = facts.taken
    if taken is not None:
        if not ask.replaces:
            return DatabaseError(TAKEN)
        if taken.chat_id != ask.chat_id or taken.role != "user":
            return BadRequest(NOT_REGENERABLE)
    return None


def regenerates(facts: AdmissionFacts, ask: AdmissionAsk) -> bool:
    """The new message takes the place of the stored user message with its id."""
    taken = facts.taken
    return (
        ask.replaces and taken is not None and taken.chat_id == ask.chat_id and taken.role == "user"
    )


class Admission(Protocol):
    async def admit(self, ask: AdmissionAsk) -> Admitted:
        """Admit the turn and write its rows, committed; raise the AppError `refuse` names
        (nothing written), or a 503 when the database cannot be reached."""


class PortableAdmission:
    """Every turn, in one short transaction under the user's write lock (SQLAlchemy)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory

    async def admit(self, ask: AdmissionAsk) -> Admitted:
        try:
            async with self._factory() as session:
                admitted = await self._admit(session, ask)
                await session.commit()
        except DATABASE_ERRORS as exc:
            raise database_error(exc) from exc
        return admitted

    async def _admit(self, session: AsyncSession, ask: AdmissionAsk) -> Admitted:
        await store.lock_user(session, ask.user_id)
        facts = await store.read_facts(
            session,
            user_id=ask.user_id,
            chat_id=ask.chat_id,
            message_id=ask.message_id,
            since=ask.since,
        )
        replacing = regenerates(facts, ask)
        if replacing:
            assert ask.message_id is not None
            freed = await store.count_freed(
                session, ask.user_id, ask.chat_id, ask.message_id, ask.since
            )
            facts = replace(facts, freed=freed)
        error = refuse(facts, ask)
        if error is not None:
            raise error
        if ask.continues is not None:
            admitted = await _continue(session, ask)
        else:
            if replacing:
                assert ask.message_id is not None
                await store.delete_from(session, ask.chat_id, ask.message_id)
            history = []
            if facts.chat_exists and ask.history_limit:
                history = await store.read_history(session, ask.chat_id, ask.history_limit)
            if ask.answers:
                history = await _final_denials(session, history, ask)
            admitted = Admitted(new_chat=not facts.chat_exists, history=history)
        await store.insert_turn(session, turn_rows(ask, new_chat=admitted.new_chat))
        return admitted


def turn_rows(ask: AdmissionAsk, *, new_chat: bool) -> store.TurnRows:
    return store.TurnRows(
        chat_id=ask.chat_id,
        user_id=ask.user_id,
        stream_id=ask.stream_id,
        created_at=ask.created_at,
        new_chat_visibility=ask.visibility if new_chat else None,
        message_id=ask.message_id,
        parts=ask.parts,
    )


async def _continue(session: AsyncSession, ask: AdmissionAsk) -> Admitted:
    """The stored reply the request continues, with the client's answers applied and saved
    now (a second continuation finds nothing left to answer), and the history before it."""
    assert ask.continues is not None
    stored = await store.get_message(session, ask.continues)
    if stored is None or stored.chat_id != ask.chat_id or stored.role != "assistant":
        raise BadRequest("messages: the last assistant message is not part of this chat")
    parts = apply_answers(stored.parts, ask.answers, ask.tools or {})
    if parts is None:
        raise BadRequest("messages: no tool result or approval answer to continue with")
    await store.set_parts(session, stored.id, parts)
    history = []
    if ask.history_limit:
        history = await store.read_history(session, ask.chat_id, ask.history_limit, before=stored)
    return Admitted(new_chat=False, history=history, continuing=ui_message(stored, parts))


async def _final_denials(
    session: AsyncSession, history: list[HistoryRow], ask: AdmissionAsk
) -> list[HistoryRow]:
    """A new message after unanswered approvals: the client's denials are final (saved now;
    no continuation will run those calls)."""
    result = []
    for message_id, role, parts, created_at in history:
        if role == "assistant":
            answered = apply_answers(parts, ask.answers, ask.tools or {}, final=True)
            if answered is not None:
                await store.set_parts(session, message_id, answered)
                parts = answered
        result.append((message_id, role, parts, created_at))
    return result


def ui_message(message: Message, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A stored message as the UI message a continuation writes on."""
    return {
        "id": str(message.id),
        "role": message.role,
        "parts": parts,
        "metadata": {"createdAt": iso_ms(message.created_at)},
    }
