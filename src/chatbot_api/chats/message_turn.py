"""The common chat turn, a new user message: admitted in the fewest statements, its model call
started as early as the database allows (before the commit on SQLite; on PostgreSQL during
the one admitting round trip, the conversation sent once it is back); nothing of it is
visible before the commit (on PostgreSQL, before the message is durable: the admission's
commit does not wait for the WAL flush, a second statement does)."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from chatbot_api.ai import prompts
from chatbot_api.ai.registry import ResolvedModel
from chatbot_api.auth.identity import AuthUser
from chatbot_api.chats import limits, turn_store
from chatbot_api.chats.chat_request import ChatRequest
from chatbot_api.chats.turn import Turn, TurnDeps, TurnPlan, open_stream_log
from chatbot_api.core.errors import AppError, ChatForbidden, DatabaseError
from chatbot_api.db.session import DRIVER_ERRORS, database_error
from chatbot_api.db.types import iso_ms, utcnow

log = structlog.get_logger(__name__)

NEW_CHAT_TITLE = "New chat"
_NOT_DURABLE = "The reply could not be started."


def is_message_turn(request: ChatRequest) -> bool:
    """A new user message, neither a regenerate nor an approval continuation."""
    return (
        request.message is not None and request.approval_messages is None and not request.regenerate
    )


async def start_message_turn(
    deps: TurnDeps,
    user: AuthUser,
    request: ChatRequest,
    model_id: str,
    resolved: ResolvedModel,
    hints: prompts.RequestHints,
) -> str:
    """The common turn, a new user message: under the user's lock one read answers ownership,
    the limit and the id and brings the recent history; the model call starts as soon as the
    facts admit the message (its chunks are held back until the message is committed, on
    PostgreSQL durable, and the log is open)."""
    engine = deps.engine
    spec = _TurnSpec(model_id, resolved, hints)
    if engine.dialect.name == "postgresql":
        turn = await _admit_pg(engine, deps, user, request, spec)  # live once durable
    else:
        turn = await _admit_in_session(engine, deps, user, request, spec)
        turn.attach()  # committed, its log open
    return turn.stream_key


@dataclass(frozen=True, slots=True)
class _TurnSpec:
    model_id: str
    resolved: ResolvedModel
    hints: prompts.RequestHints


async def _admit_pg(
    engine: AsyncEngine, deps: TurnDeps, user: AuthUser, request: ChatRequest, spec: _TurnSpec
) -> Turn:
    """PostgreSQL: one round trip admits and commits (turn_store.admit_message_pg), without
    waiting for the WAL flush. Meanwhile the statement that makes the message durable goes
    out on a second connection (it waits on the user's lock, so it runs right after the
    commit), and the turn starts: its model request goes out up to the system prompt and
    waits for the chat's history (`Turn(history_later=True)`); nothing of the conversation
    is sent before the admission. Then the request's rest goes out, the stream log opens
    (with Redis, created there with its first events), not yet as the chat's, and the
    response starts; the turn's chunks are held until the message is durable (`_go_live`),
    then the log becomes the chat's and they flow.

    A refused turn is dropped with its unfinished request (the upstream never sees a whole
    one); its early durability statement finds nothing, and no log was opened. A user
    refused lately gets neither an early turn nor an early durability statement (they follow
    the admission), so that refusals cannot make the app drop upstream connections at will."""
    new = _new_message(deps, user, request)
    stream_key = str(new.stream_id)
    starting = None
    refused_lately = _refusals.recent(user.id)
    if not refused_lately:  # a callback: it runs once the admission's query is on its way
        starting = _EarlyStart(functools.partial(_start, deps, user, request, spec, None, new))
    try:
        lock = limits.user_lock_key(user.id)
        facts, rows, admission = await turn_store.admit_message_pg(
            engine, limits.USER_LOCK_NAMESPACE, lock, new, durable_early=not refused_lately
        )
    except BaseException as exc:
        if starting is not None:
            starting.drop()
        if isinstance(exc, (SQLAlchemyError, *DRIVER_ERRORS, OSError)):
            raise database_error(exc) from exc
        raise
    turn = starting.take() if starting is not None else None
    opening: asyncio.Task[None] | None = None
    try:
        try:
            await _refuse(deps, facts, user, new.max_per_day, since=new.since)
        except AppError:
            _refusals.add(user.id)
            raise
        new_chat = facts.owner is None
        if turn is None:
            turn = _start(deps, user, request, spec, (new_chat, rows), new)
        else:
            turn.admit(
                [context_message(row[1], row[2]) for row in rows], new.parts if new_chat else None
            )
        # A task: it runs after the turn's, which sends the model request's rest.
        opening = asyncio.ensure_future(open_stream_log(deps, stream_key, None))
        await opening
    except BaseException:
        admission.release()  # a statement still running finishes first
        if turn is not None:
            turn.abandon()
        if opening is not None:
            await _drop_log(deps, opening, stream_key)
        raise
    deps.tasks.start(_go_live(deps, turn, admission, str(new.chat_id)), name="go-live")
    return turn


async def _go_live(
    deps: TurnDeps, turn: Turn, admission: turn_store.PgAdmission, chat_id: str
) -> None:
    """Once the admitted message is durable, the turn's log becomes the chat's and its held
    chunks go to it: nothing of the reply is shown (or resumable) for a message a crash
    could still lose. If it cannot be made durable, the turn is dropped and its response
    ends with an error."""
    try:
        try:
            await admission.make_durable()
        finally:
            admission.release()
    except BaseException as exc:
        log.warning(
            "the admitted message could not be made durable",
            chat_id=chat_id,
            error=type(exc).__name__,
        )
        await turn.fail(_NOT_DURABLE)
        if not isinstance(exc, Exception):
            raise
        return
    deps.stream_log.activate(turn.stream_key, chat_id)
    turn.attach()


class _EarlyStart:
    """Starts a turn from the event loop's next round (by then the admission's query is on
    the wire). `take()` gives it, or None if it has not started (then it never will);
    `drop()` undoes it either way."""

    def __init__(self, start: Callable[[], Turn]) -> None:
        self._turn: Turn | None = None
        self._start = start
        self._handle = asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        self._turn = self._start()

    def take(self) -> Turn | None:
        self._handle.cancel()
        return self._turn

    def drop(self) -> None:
        turn = self.take()
        if turn is not None:
            turn.abandon()


class _RecentRefusals:
    """Users whose message was refused (403, 429, a taken id) in the last `window` seconds,
    at most `size` of them (the oldest forgotten first)."""

    def __init__(self, window: float = 600.0, size: int = 10_000) -> None:
        self._window = window
        self._size = size
        self._at: OrderedDict[uuid.UUID, float] = OrderedDict()

    def add(self, user_id: uuid.UUID) -> None:
        self._at.pop(user_id, None)
        self._at[user_id] = time.monotonic()
        while len(self._at) > self._size:
            self._at.popitem(last=False)

    def recent(self, user_id: uuid.UUID) -> bool:
        at = self._at.get(user_id)
        if at is None:
            return False
        if time.monotonic() - at < self._window:
            return True
        del self._at[user_id]
        return False


_refusals = _RecentRefusals()


async def _drop_log(deps: TurnDeps, opening: asyncio.Future[None], stream_key: str) -> None:
    """The turn is not going ahead: its log, if it opened, goes (its opening is awaited, not
    cancelled, so that nothing of it stays behind)."""
    try:
        await asyncio.shield(opening)
    except Exception:
        return  # it did not open: nothing to drop
    await deps.stream_log.discard(stream_key)


async def _admit_in_session(
    engine: AsyncEngine, deps: TurnDeps, user: AuthUser, request: ChatRequest, spec: _TurnSpec
) -> Turn:
    """Other databases (SQLite): the write lock, the facts with the history, the inserts and
    the commit through a session."""
    async with deps.session_factory() as session:
        try:
            turn = await _admit_message(session, deps, user, request, spec)
            try:
                await session.commit()
            except BaseException:
                turn.abandon()
                raise
        except SQLAlchemyError as exc:
            raise database_error(exc) from exc
    try:
        await open_stream_log(deps, turn.stream_key, str(turn.plan.chat_id))
    except AppError:
        turn.abandon()
        raise
    return turn


async def _admit_message(
    session: AsyncSession, deps: TurnDeps, user: AuthUser, request: ChatRequest, spec: _TurnSpec
) -> Turn:
    new = _new_message(deps, user, request)
    # One writer per user at a time: the count below stays exact until the commit.
    await limits.lock_user_messages(session, user.id)
    conn = await session.connection()
    facts, rows = await turn_store.admission_facts_and_history(
        conn,
        user_id=user.id,
        chat_id=new.chat_id,
        message_id=new.message_id,
        since=new.since,
        limit=new.history_limit,
    )
    await _refuse(deps, facts, user, new.max_per_day, since=new.since, session=session)
    turn = _start(deps, user, request, spec, (facts.owner is None, rows), new)
    rows_in = turn_store.NewTurnRows(
        chat=_chat_row(request, user, new.created_at) if facts.owner is None else None,
        message={
            "id": new.message_id,
            "chatId": new.chat_id,
            "role": "user",
            "parts": new.parts,
            "attachments": [],
            "createdAt": new.created_at,
        },
        stream={"id": new.stream_id, "chatId": new.chat_id, "createdAt": new.created_at},
    )
    try:
        await turn_store.insert_turn(conn, rows_in)
    except BaseException:
        turn.abandon()
        raise
    return turn


def _new_message(deps: TurnDeps, user: AuthUser, request: ChatRequest) -> turn_store.NewMessage:
    message = request.message
    assert message is not None
    settings = deps.settings
    now = utcnow()
    return turn_store.NewMessage(
        user_id=user.id,
        chat_id=request.chat_id,
        message_id=message.id,
        parts=message.ui_parts(),
        stream_id=uuid.uuid4(),
        created_at=now,
        since=now - limits.WINDOW,
        max_per_day=settings.max_messages_per_day(user.type),
        history_limit=settings.chat_max_history_messages - 1,
        new_chat_title=NEW_CHAT_TITLE,
        visibility=request.visibility,
    )


async def _refuse(
    deps: TurnDeps,
    facts: turn_store.AdmissionFacts,
    user: AuthUser,
    limit: int,
    *,
    since: datetime,
    session: AsyncSession | None = None,
) -> None:
    """Raise why the message is refused, if it is: someone else's chat (403), the daily limit
    (429 with Retry-After), a message id already taken (400)."""
    if facts.owner is not None and facts.owner != user.id:
        raise ChatForbidden()
    if facts.sent >= limit:
        if session is not None:
            await limits.enforce_daily_limit(session, user.id, facts.sent, limit, since=since)
        else:  # only the Retry-After read, outside the admission's transaction
            async with deps.session_factory() as read:
                await limits.enforce_daily_limit(read, user.id, facts.sent, limit, since=since)
    if facts.taken:
        raise DatabaseError("A message with this id already exists.")


def _start(
    deps: TurnDeps,
    user: AuthUser,
    request: ChatRequest,
    spec: _TurnSpec,
    admitted: tuple[bool, list[turn_store.HistoryRow]] | None,
    new: turn_store.NewMessage,
) -> Turn:
    """The turn, started early: its model call runs, its chunks are held until `attach`.
    `admitted`: (new chat?, the history) once the admission has read them; None starts the
    turn before, with the history to come (`Turn.admit`)."""
    history = [context_message("user", new.parts)]
    title_parts = None
    if admitted is not None:
        new_chat, rows = admitted
        history[:0] = [context_message(row[1], row[2]) for row in rows]
        title_parts = new.parts if new_chat else None
    turn = Turn(
        deps,
        TurnPlan(
            stream_id=new.stream_id,
            chat_id=request.chat_id,
            user_id=user.id,
            model_id=spec.model_id,
            provider=spec.resolved.provider,
            upstream_model=spec.resolved.upstream_model,
            system=prompts.system_prompt(spec.model_id, spec.hints),
            reasoning=spec.resolved.reasoning,
            history=history,
            reply_id=uuid.uuid4(),
            continuing=None,
            title_parts=title_parts,
        ),
        early=True,
        history_later=admitted is None,
    )
    turn.start()
    return turn


def _chat_row(request: ChatRequest, user: AuthUser, now: datetime) -> dict[str, Any]:
    return {
        "id": request.chat_id,
        "createdAt": now,
        "title": NEW_CHAT_TITLE,
        "userId": user.id,
        "visibility": request.visibility,
    }


def context_message(role: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A stored message as the model's context takes it: its role and parts (the model is
    shown neither ids nor times)."""
    return {"role": role, "parts": parts}


def ui_message(
    id: uuid.UUID, role: str, parts: list[dict[str, Any]], created_at: datetime
) -> dict[str, Any]:
    """A stored message as a UI message (the one an approval continuation writes on)."""
    return {
        "id": str(id),
        "role": role,
        "parts": parts,
        "metadata": {"createdAt": iso_ms(created_at)},
    }
