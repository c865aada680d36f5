"""Rules of a chat turn before it streams (model, ownership, limit, approvals); resume; stop."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.ai import prompts
from chatbot_api.ai.convert import tool_name_of
from chatbot_api.ai.registry import ModelRegistry, ResolvedModel
from chatbot_api.auth.dependencies import AuthUser
from chatbot_api.chats import limits, repository
from chatbot_api.chats.chat_request import ChatRequest, ClientMessageIn, UserMessageIn
from chatbot_api.chats.message_turn import (
    NEW_CHAT_TITLE,
    context_message,
    is_message_turn,
    start_message_turn,
    ui_message,
)
from chatbot_api.chats.models import Chat, Message
from chatbot_api.chats.turn import Turn, TurnDeps, TurnPlan, open_stream_log
from chatbot_api.core.errors import BadRequest, ChatForbidden, ChatNotFound, DatabaseError
from chatbot_api.db.session import database_error
from chatbot_api.db.types import utcnow


@dataclass(slots=True)
class _Admitted:
    chat: Chat
    is_new: bool
    stored: list[Message]  # the chat's messages, oldest first (the new user message included)
    continuing: dict[str, Any] | None  # the UI message an approval continuation extends
    stream_id: uuid.UUID


async def start_turn(
    deps: TurnDeps,
    registry: ModelRegistry,
    user: AuthUser,
    request: ChatRequest,
    hints: prompts.RequestHints,
) -> str:
    """Validate and persist in one short transaction, start the producer; the stream id."""
    model_id = request.model_id or registry.default_chat_model
    resolved = registry.resolve(model_id)
    if is_message_turn(request):
        return await start_message_turn(deps, user, request, model_id, resolved, hints)
    async with deps.session_factory() as session:
        try:
            admitted = await _admit(session, deps, user, request)
            await session.commit()
        except SQLAlchemyError as exc:
            raise database_error(exc) from exc
    plan = _plan(deps, user, model_id, resolved, admitted, hints)
    stream_key = str(admitted.stream_id)
    await open_stream_log(deps, stream_key, str(admitted.chat.id))
    Turn(deps, plan).start()
    return stream_key


async def _admit(
    session: AsyncSession, deps: TurnDeps, user: AuthUser, request: ChatRequest
) -> _Admitted:
    # One writer per user at a time: exact limits, and one continuation per approval.
    await limits.lock_user_messages(session, user.id)
    chat = await repository.get_chat(session, request.chat_id)
    if chat is not None and chat.user_id != user.id:
        raise ChatForbidden()
    if chat is None and request.message is None:
        raise ChatNotFound()
    stored = await repository.get_messages(session, chat.id) if chat is not None else []
    continuing = None
    if request.approval_messages is not None:
        continuing = _apply_approvals(stored, request.approval_messages)
    is_new = chat is None
    if request.message is not None:
        limit = deps.settings.max_messages_per_day(user.type)
        chat, row = await _save_user_message(session, user, request, chat, limit)
        if request.regenerate:  # earlier rows may be gone: read the history again
            stored = await repository.get_messages(session, chat.id)
        else:
            stored.append(row)
    assert chat is not None
    stream_id = uuid.uuid4()
    await repository.create_stream(session, stream_id, chat.id)
    return _Admitted(chat, is_new, stored, continuing, stream_id)


async def _save_user_message(
    session: AsyncSession, user: AuthUser, request: ChatRequest, chat: Chat | None, limit: int
) -> tuple[Chat, Message]:
    """The exact daily limit, then the new chat (if any) and the user message."""
    message = request.message
    assert message is not None
    existing = await repository.get_message(session, message.id)
    if existing is not None and request.regenerate and chat is not None:
        if existing.chat_id != chat.id or existing.role != "user":
            raise BadRequest("messages: the message to regenerate is not in this chat")
        # As ai-chatbot's edit: the message and everything after it go, then it is re-sent.
        await repository.delete_messages_from(session, chat.id, message.id)
        existing = None
    await limits.check_daily_limit(session, user.id, limit)
    if existing is not None:
        raise DatabaseError("A message with this id already exists.")
    if chat is None:
        chat = Chat(
            id=request.chat_id,
            user_id=user.id,
            title=NEW_CHAT_TITLE,
            visibility=request.visibility,
            created_at=utcnow(),
        )
        await repository.save_chat(session, chat)
    row = _user_row(chat.id, message)
    await repository.save_messages(session, [row])
    return chat, row


def _user_row(chat_id: uuid.UUID, message: UserMessageIn) -> Message:
    return Message(
        id=message.id,
        chat_id=chat_id,
        role="user",
        parts=message.ui_parts(),
        attachments=[],
        created_at=utcnow(),
    )


def _apply_approvals(
    stored: Sequence[Message], client: Sequence[ClientMessageIn]
) -> dict[str, Any] | None:
    """Apply the client's answers to approval requests of the stored assistant messages.

    The stored messages stay the authority: only a pending `approval-requested` part whose
    approval id matches takes the client's answer. When the client's last message is the
    assistant's, that stored message is continued (its answers are saved now, so a second
    continuation finds nothing left to answer); otherwise (a new user message follows)
    denials are final and saved now.
    """
    answers = _approval_answers(client)
    last = client[-1] if client else None
    if last is not None and last.role == "assistant":
        target = next((m for m in stored if str(m.id) == last.id and m.role == "assistant"), None)
        if target is None:
            raise BadRequest("messages: the last assistant message is not part of this chat")
        parts = _answered_parts(target.parts, answers, final=False)
        if parts is None:
            raise BadRequest("messages: no answered tool approval to continue")
        target.parts = parts
        return _ui(target)
    for message in stored:
        if message.role == "assistant":
            parts = _answered_parts(message.parts, answers, final=True)
            if parts is not None:
                message.parts = parts
    return None


def _approval_answers(client: Sequence[ClientMessageIn]) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    for message in client:
        for part in message.parts:
            approval = part.get("approval")
            if part.get("state") not in ("approval-responded", "output-denied"):
                continue
            if not isinstance(approval, dict) or not isinstance(approval.get("approved"), bool):
                continue
            answer: dict[str, Any] = {
                "id": str(approval.get("id")),
                "approved": approval["approved"],
            }
            if isinstance(approval.get("reason"), str):
                answer["reason"] = approval["reason"][:500]
            answers[str(part.get("toolCallId"))] = answer
    return answers


def _answered_parts(
    parts: list[dict[str, Any]], answers: dict[str, dict[str, Any]], *, final: bool
) -> list[dict[str, Any]] | None:
    """The parts with answers applied, or None if none applied. `final`: a denial becomes
    `output-denied` now (no continuation will run it); approvals stay pending."""
    updated = copy.deepcopy(parts)
    changed = False
    for part in updated:
        if tool_name_of(part) is None or part.get("state") != "approval-requested":
            continue
        answer = answers.get(str(part.get("toolCallId")))
        pending = part.get("approval") or {}
        if answer is None or answer["id"] != str(pending.get("id")):
            continue
        if final and answer["approved"]:
            continue
        part["approval"] = answer
        part["state"] = "output-denied" if final else "approval-responded"
        changed = True
    return updated if changed else None


def _plan(
    deps: TurnDeps,
    user: AuthUser,
    model_id: str,
    resolved: ResolvedModel,
    admitted: _Admitted,
    hints: prompts.RequestHints,
) -> TurnPlan:
    continuing = admitted.continuing
    stored = admitted.stored
    if continuing is not None:
        stored = stored[: next(i for i, m in enumerate(stored) if str(m.id) == continuing["id"])]
    history = [
        context_message(m.role, m.parts) for m in stored[-deps.settings.chat_max_history_messages :]
    ]
    first_user = next((m for m in admitted.stored if m.role == "user"), None)
    return TurnPlan(
        stream_id=admitted.stream_id,
        chat_id=admitted.chat.id,
        user_id=user.id,
        model_id=model_id,
        provider=resolved.provider,
        upstream_model=resolved.upstream_model,
        system=prompts.system_prompt(model_id, hints),
        reasoning=resolved.reasoning,
        history=history,
        reply_id=uuid.UUID(continuing["id"]) if continuing is not None else uuid.uuid4(),
        continuing=continuing,
        title_parts=first_user.parts if admitted.is_new and first_user is not None else None,
    )


def _ui(message: Message) -> dict[str, Any]:
    return ui_message(message.id, message.role, message.parts, message.created_at)


# --- resume and stop -------------------------------------------------------------------------


async def live_stream(deps: TurnDeps, user: AuthUser, chat_id: uuid.UUID) -> str | None:
    """The chat's live stream for a resume: 404 unknown chat, 403 someone else's private chat."""
    async with deps.session_factory() as session:
        chat = await repository.get_chat(session, chat_id)
    if chat is None:
        raise ChatNotFound()
    if chat.user_id != user.id and chat.visibility != "public":
        raise ChatForbidden()
    return await deps.stream_log.active_stream(str(chat_id))


async def stop_turn(deps: TurnDeps, user: AuthUser, chat_id: uuid.UUID) -> bool:
    """Ask the chat's live turn to stop (owner only). True if one was live."""
    async with deps.session_factory() as session:
        chat = await repository.get_chat(session, chat_id)
    if chat is None:
        raise ChatNotFound()
    if chat.user_id != user.id:
        raise ChatForbidden()
    stream_key = await deps.stream_log.active_stream(str(chat_id))
    if stream_key is None:
        return False
    return await deps.stream_log.request_stop(stream_key)
