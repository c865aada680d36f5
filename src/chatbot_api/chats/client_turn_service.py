"""Rules of a client-context turn (assistant-ui / simple body) before it streams: the model,
the tools offered, ownership, the exact daily limit, and frontend-tool continuations."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.ai import prompts
from chatbot_api.ai.base import Provider
from chatbot_api.ai.convert import tool_name_of
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.ai.registry import ModelRegistry
from chatbot_api.ai.tools import CHAT_TOOLS, Tool
from chatbot_api.ai.tools.frontend import frontend_tool
from chatbot_api.auth.identity import AuthUser
from chatbot_api.chats import limits, repository
from chatbot_api.chats.chat_request import message_uuid
from chatbot_api.chats.client_turn import ClientTurn, chat_uuid
from chatbot_api.chats.models import Chat, Message
from chatbot_api.chats.turn import TurnDeps, TurnPlan, open_stream_log, run_turn
from chatbot_api.chats.turn_options import TurnOptions
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import BadRequest, ChatForbidden, ChatNotFound
from chatbot_api.db.session import database_error
from chatbot_api.db.types import iso_ms, utcnow

NEW_CHAT_TITLE = "New chat"
ERROR_TEXT_MAX_CHARS = 2000
log = structlog.get_logger("chatbot_api.turn")
_ignored_config_logged = False


@dataclass(frozen=True, slots=True)
class _Model:
    model_id: str
    provider: Provider
    upstream_model: str
    reasoning: bool


@dataclass(slots=True)
class _Admitted:
    chat: Chat
    is_new: bool
    history: list[dict[str, Any]]
    continuing: dict[str, Any] | None
    title_parts: list[dict[str, Any]] | None
    stream_id: uuid.UUID


async def start_client_turn(
    deps: TurnDeps,
    registry: ModelRegistry,
    user: AuthUser,
    turn: ClientTurn,
    hints: prompts.RequestHints,
) -> str:
    """Validate and persist in one short transaction, start the producer; the stream id."""
    settings = deps.settings
    model = _model(deps, registry, turn)
    tools = offered_tools(settings, turn)
    async with deps.session_factory() as session:
        try:
            admitted = await _admit(session, settings, user, turn, tools)
            await session.commit()
        except SQLAlchemyError as exc:
            raise database_error(exc) from exc
    max_tokens = turn.max_output_tokens
    plan = TurnPlan(
        stream_id=admitted.stream_id,
        chat_id=admitted.chat.id,
        user_id=user.id,
        model_id=model.model_id,
        provider=model.provider,
        upstream_model=model.upstream_model,
        system=turn.system or prompts.system_prompt(model.model_id, hints),
        reasoning=model.reasoning,
        history=admitted.history[-settings.chat_max_history_messages :],
        reply_id=uuid.UUID(admitted.continuing["id"]) if admitted.continuing else uuid.uuid4(),
        continuing=admitted.continuing,
        title_parts=admitted.title_parts,
        options=TurnOptions(
            tools=tools,
            temperature=turn.temperature,
            max_output_tokens=min(max_tokens, settings.max_output_tokens) if max_tokens else None,
        ),
    )
    stream_key = str(admitted.stream_id)
    await open_stream_log(deps, stream_key, str(admitted.chat.id))
    deps.tasks.start(run_turn(deps, plan), name=f"turn-{stream_key}")
    return stream_key


def offered_tools(settings: Settings, turn: ClientTurn) -> dict[str, Tool]:
    """Backend tools (ASSISTANT_UI_BACKEND_TOOLS; the simple body gets only those needing no
    approval, which it cannot give) plus the client's frontend tools."""
    tools: dict[str, Tool] = {}
    if settings.assistant_ui_backend_tools:
        tools = {
            name: tool
            for name, tool in CHAT_TOOLS.items()
            if turn.kind == "assistant-ui" or not tool.needs_approval(settings)
        }
    for spec in turn.tools:
        if spec.name in tools:
            raise BadRequest(f"tools.{spec.name}: the name of a backend tool; rename it")
        tools[spec.name] = frontend_tool(spec.name, spec.description, spec.parameters)
    return tools


def _model(deps: TurnDeps, registry: ModelRegistry, turn: ClientTurn) -> _Model:
    """`config.modelName` (a registry id), else the default; a client provider only when
    ALLOW_CLIENT_PROVIDER_CONFIG is on."""
    global _ignored_config_logged
    settings = deps.settings
    if turn.api_key or turn.base_url:
        if settings.allow_client_provider_config:
            return _client_provider(deps, registry, turn)
        if not _ignored_config_logged:
            _ignored_config_logged = True
            log.debug("config.apiKey/baseUrl ignored (ALLOW_CLIENT_PROVIDER_CONFIG is off)")
    model_id = turn.model_id or registry.default_chat_model
    resolved = registry.resolve(model_id)
    return _Model(model_id, resolved.provider, resolved.upstream_model, resolved.reasoning)


def _client_provider(deps: TurnDeps, registry: ModelRegistry, turn: ClientTurn) -> _Model:
    settings = deps.settings
    base_url = turn.base_url or settings.openai_base_url
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("config.baseUrl: must be an http(s) URL")
    if not turn.model_id:
        raise BadRequest("config.modelName: required with config.baseUrl or config.apiKey")
    provider = OpenAICompatProvider(
        registry.http,
        base_url,
        turn.api_key,
        name="client-config",
        idle_timeout=settings.llm_idle_timeout_seconds,
        connect_timeout=settings.llm_connect_timeout_seconds,
    )
    return _Model(turn.model_id, provider, turn.model_id, False)


async def _admit(
    session: AsyncSession,
    settings: Settings,
    user: AuthUser,
    turn: ClientTurn,
    tools: Mapping[str, Tool],
) -> _Admitted:
    # One writer per user at a time: exact limits, and one continuation per tool call.
    await limits.lock_user_messages(session, user.id)
    chat_id = chat_uuid(user.id, turn.raw_id)
    chat = await repository.get_chat(session, chat_id)
    if chat is not None and chat.user_id != user.id:
        raise ChatForbidden()
    last = turn.last
    if last["role"] == "assistant":
        if chat is None:
            raise ChatNotFound()
        continuing = await _continue(session, chat, last, tools)
        history = turn.messages[:-1]
        stream_id = uuid.uuid4()
        await repository.create_stream(session, stream_id, chat.id)
        return _Admitted(chat, False, history, continuing, None, stream_id)
    is_new = chat is None
    message_id = message_uuid(chat_id, last["id"])
    existing = await repository.get_message(session, message_id)
    if existing is not None:
        if chat is None or existing.chat_id != chat.id or existing.role != "user":
            raise BadRequest("messages: the id of the last message belongs to another message")
        # Regenerate (or a resend): the client's context is the authority; later rows go.
        await repository.delete_messages_from(session, chat.id, message_id)
    await limits.check_daily_limit(session, user.id, settings.max_messages_per_day(user.type))
    if chat is None:
        chat = Chat(
            id=chat_id,
            user_id=user.id,
            title=NEW_CHAT_TITLE,
            visibility="private",
            created_at=utcnow(),
        )
        await repository.save_chat(session, chat)
    row = Message(
        id=message_id,
        chat_id=chat.id,
        role="user",
        parts=last["parts"],
        attachments=[],
        created_at=utcnow(),
    )
    await repository.save_messages(session, [row])
    stream_id = uuid.uuid4()
    await repository.create_stream(session, stream_id, chat.id)
    history = [*turn.messages[:-1], {**last, "id": str(message_id)}]
    return _Admitted(chat, is_new, history, None, last["parts"] if is_new else None, stream_id)


async def _continue(
    session: AsyncSession, chat: Chat, last: Mapping[str, Any], tools: Mapping[str, Tool]
) -> dict[str, Any]:
    """The stored reply the client's last (assistant) message continues, with the client's
    frontend tool results and approval answers applied (and saved now, so a second
    continuation finds nothing left to answer)."""
    stored = await repository.get_message(session, message_uuid(chat.id, str(last["id"])))
    if stored is None or stored.chat_id != chat.id or stored.role != "assistant":
        raise BadRequest("messages: the last assistant message is not part of this chat")
    parts = answered_parts(stored.parts, last["parts"], tools)
    if parts is None:
        raise BadRequest("messages: no tool result or approval answer to continue with")
    stored.parts = parts
    return {
        "id": str(stored.id),
        "role": "assistant",
        "parts": parts,
        "metadata": {"createdAt": iso_ms(stored.created_at)},
    }


def answered_parts(
    stored: Sequence[Mapping[str, Any]],
    client: Sequence[Mapping[str, Any]],
    tools: Mapping[str, Tool],
) -> list[dict[str, Any]] | None:
    """Stored parts with the client's answers: a pending frontend call takes the client's
    output (or error); a pending approval takes a matching answer. None if nothing applied."""
    answers = {str(p.get("toolCallId")): p for p in client if tool_name_of(p) is not None}
    updated: list[dict[str, Any]] = copy.deepcopy([dict(part) for part in stored])
    changed = False
    for part in updated:
        name = tool_name_of(part)
        answer = answers.get(str(part.get("toolCallId")))
        if name is None or answer is None or tool_name_of(answer) != name:
            continue
        state, answered = part.get("state"), answer.get("state")
        tool = tools.get(name)
        if state == "input-available" and (tool is None or tool.runs_on_client):
            if answered == "output-available":
                part.update(state=answered, output=answer.get("output"))
                changed = True
            elif answered == "output-error":
                error = str(answer.get("errorText") or "The tool failed.")
                part.update(state=answered, errorText=error[:ERROR_TEXT_MAX_CHARS])
                changed = True
        elif state == "approval-requested" and answered in ("approval-responded", "output-denied"):
            approval = answer.get("approval")
            pending = part.get("approval") or {}
            if not isinstance(approval, Mapping) or not isinstance(approval.get("approved"), bool):
                continue
            if str(approval.get("id")) != str(pending.get("id")):
                continue
            reply: dict[str, Any] = {"id": str(pending.get("id")), "approved": approval["approved"]}
            if isinstance(approval.get("reason"), str):
                reply["reason"] = approval["reason"][:500]
            part.update(state="approval-responded", approval=reply)
            changed = True
    return updated if changed else None
