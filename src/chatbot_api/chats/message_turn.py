"""The common chat turn, a new user message: admitted in the fewest statements, its model call
started while the rows are being committed (nothing of it is visible before the commit)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.ai import prompts
from chatbot_api.ai.registry import ResolvedModel
from chatbot_api.auth.identity import AuthUser
from chatbot_api.chats import limits, turn_store
from chatbot_api.chats.chat_request import ChatRequest
from chatbot_api.chats.turn import Turn, TurnDeps, TurnPlan
from chatbot_api.core.errors import AppError, ChatForbidden, DatabaseError
from chatbot_api.db.session import database_error
from chatbot_api.db.types import iso_ms, utcnow

NEW_CHAT_TITLE = "New chat"
log = structlog.get_logger("chatbot_api.turn")


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
    the limit and the id and brings the recent history; then the model call starts while the
    rows are inserted and committed (its chunks are held back until then)."""
    async with deps.session_factory() as session:
        try:
            turn = await _admit_message(session, deps, user, request, model_id, resolved, hints)
            try:
                await session.commit()
            except BaseException:
                turn.abandon()
                raise
        except SQLAlchemyError as exc:
            raise database_error(exc) from exc
    stream_key, chat_id = turn.stream_key, str(turn.plan.chat_id)
    try:
        await deps.stream_log.open(stream_key, chat_id)
    except Exception as exc:  # e.g. Redis unreachable: the message is kept, no reply
        turn.abandon()
        log.exception("opening the stream log failed", chat_id=chat_id)
        raise AppError("The reply could not be started.", code="offline:chat") from exc
    turn.attach()
    return stream_key


async def _admit_message(
    session: AsyncSession,
    deps: TurnDeps,
    user: AuthUser,
    request: ChatRequest,
    model_id: str,
    resolved: ResolvedModel,
    hints: prompts.RequestHints,
) -> Turn:
    message = request.message
    assert message is not None
    settings = deps.settings
    now = utcnow()
    since = now - limits.WINDOW
    # One writer per user at a time: the count below stays exact until the commit.
    await limits.lock_user_messages(session, user.id)
    conn = await session.connection()
    facts, rows = await turn_store.admission_facts_and_history(
        conn,
        user_id=user.id,
        chat_id=request.chat_id,
        message_id=message.id,
        since=since,
        limit=settings.chat_max_history_messages - 1,
    )
    if facts.owner is not None and facts.owner != user.id:
        raise ChatForbidden()
    limit = settings.max_messages_per_day(user.type)
    await limits.enforce_daily_limit(session, user.id, facts.sent, limit, since=since, now=now)
    if facts.taken:
        raise DatabaseError("A message with this id already exists.")
    is_new = facts.owner is None
    history = [ui_message(*row) for row in rows]
    parts = message.ui_parts()
    history.append(ui_message(message.id, "user", parts, now))
    stream_id = uuid.uuid4()
    turn = Turn(
        deps,
        TurnPlan(
            stream_id=stream_id,
            chat_id=request.chat_id,
            user_id=user.id,
            model_id=model_id,
            provider=resolved.provider,
            upstream_model=resolved.upstream_model,
            system=prompts.system_prompt(model_id, hints),
            reasoning=resolved.reasoning,
            history=history,
            reply_id=uuid.uuid4(),
            continuing=None,
            title_parts=parts if is_new else None,
        ),
        early=True,
    )
    turn.start()
    rows_in = turn_store.NewTurnRows(
        chat=_chat_row(request, user, now) if is_new else None,
        message={
            "id": message.id,
            "chatId": request.chat_id,
            "role": "user",
            "parts": parts,
            "attachments": [],
            "createdAt": now,
        },
        stream={"id": stream_id, "chatId": request.chat_id, "createdAt": now},
    )
    try:
        await turn_store.insert_turn(conn, rows_in)
    except BaseException:
        turn.abandon()
        raise
    return turn


def _chat_row(request: ChatRequest, user: AuthUser, now: datetime) -> dict[str, Any]:
    return {
        "id": request.chat_id,
        "createdAt": now,
        "title": NEW_CHAT_TITLE,
        "userId": user.id,
        "visibility": request.visibility,
    }


def ui_message(
    id: uuid.UUID, role: str, parts: list[dict[str, Any]], created_at: datetime
) -> dict[str, Any]:
    """A stored message as the model's context takes it (a UI message)."""
    return {
        "id": str(id),
        "role": role,
        "parts": parts,
        "metadata": {"createdAt": iso_ms(created_at)},
    }
