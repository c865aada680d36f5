"""The chat turn's rules before it streams, for every body: the model, the tools offered, the
admission, the plan; and resuming and stopping a chat's live reply."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import structlog

from chatbot_api.ai import prompts
from chatbot_api.ai.attachments import AttachmentRejected, AttachmentRules
from chatbot_api.ai.base import input_types
from chatbot_api.ai.convert import to_model_messages
from chatbot_api.ai.model_catalog import ModelInfo
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.ai.registry import ResolvedModel
from chatbot_api.ai.resilience import NO_RETRIES, Target
from chatbot_api.ai.tools import CHAT_TOOLS, Tool
from chatbot_api.ai.tools.frontend import frontend_tool
from chatbot_api.auth.identity import AuthUser
from chatbot_api.chats import service as chats
from chatbot_api.chats.turn.admission import AdmissionAsk, Admitted
from chatbot_api.chats.turn.deps import TurnDeps
from chatbot_api.chats.turn.producer import Turn, TurnPlan
from chatbot_api.chats.turn.request import TurnRequest, message_uuid
from chatbot_api.core.errors import AppError, BadRequest
from chatbot_api.db.types import utcnow

log = structlog.get_logger("chatbot_api.turn")
NOT_STARTED = "The reply could not be started."
RESTARTING = "The server is restarting. Please send your message again."


async def start_turn(
    deps: TurnDeps, user: AuthUser, request: TurnRequest, hints: prompts.RequestHints
) -> str:
    """Admit the turn (its rows committed), open its stream log and start its producer; the
    stream's id. Refusals are AppErrors raised before anything streams."""
    if deps.turns.draining:
        raise AppError(RESTARTING, code="offline:chat", headers={"Retry-After": "1"})
    model_id, model = resolve_model(deps, request)
    if not model.may_use(user.type):
        raise AppError(
            f"Model '{model_id}' is not available to {user.type} users", code="forbidden:model"
        )
    rules = attachment_rules(deps, model_id, model)
    await check_attachments(rules, request)
    tools = offered_tools(deps, request) if model.tools else {}
    chat_id = request.chat_id(user.id)
    ask = admission_ask(deps, user, request, chat_id, tools)
    admitted = await deps.admission.admit(ask)
    turn = Turn(deps, plan(deps, request, ask, admitted, model_id, model, hints, rules))
    try:
        await deps.stream_log.open(turn.stream_key, str(chat_id), turn.plan.recovery_meta())
    except Exception as exc:  # the message is kept; there is no reply to it
        log.exception("opening the stream log failed", stream_id=turn.stream_key)
        raise AppError(NOT_STARTED, code="offline:chat") from exc
    turn.start()
    await asyncio.sleep(0)  # the model request goes out before the response starts
    return turn.stream_key


def resolve_model(deps: TurnDeps, request: TurnRequest) -> tuple[str, ResolvedModel]:
    """The model id and what answers it: the registry's, or (assistant-ui's `config`, when
    ALLOW_CLIENT_PROVIDER_CONFIG is on) the client's own OpenAI-compatible server."""
    settings = deps.settings
    if (request.api_key or request.base_url) and settings.allow_client_provider_config:
        base_url = request.base_url or settings.openai_base_url
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest("config.baseUrl: must be an http(s) URL")
        if not request.model_id:
            raise BadRequest("config.modelName: required with config.baseUrl or config.apiKey")
        provider = OpenAICompatProvider(
            deps.models.http,
            base_url,
            request.api_key,
            name="client-config",
            idle_timeout=settings.llm_idle_timeout_seconds,
            connect_timeout=settings.llm_connect_timeout_seconds,
        )
        model_id = request.model_id
        target = Target(provider, "client-config", model_id, model_id, reasoning=False)
        info = ModelInfo(model_id, model_id, "", "client-config", reasoning=False)
        return model_id, ResolvedModel(info, (target,), retry=NO_RETRIES)
    model_id = request.model_id or deps.models.default_chat_model
    return model_id, deps.models.resolve(model_id)


def attachment_rules(deps: TurnDeps, model_id: str, model: ResolvedModel) -> AttachmentRules:
    """Which files the model's provider takes, and where our own uploads are read from."""
    storage = deps.storage

    async def read(url: str) -> bytes | None:
        return await storage.read(url) if storage is not None else None

    settings = deps.settings
    return AttachmentRules(
        model_id=model_id,
        input_types=input_types(model.provider),
        read=read,
        text_max_bytes=settings.chat_text_file_max_bytes,
        file_max_bytes=settings.chat_file_max_bytes,
    )


async def check_attachments(rules: AttachmentRules, request: TurnRequest) -> None:
    """Every file the request brings (its new message, a client-held context) must be one
    the model takes, readable and within its cap: else a 400 naming it, before admission."""
    messages = list(request.context or [])
    if request.message is not None:
        messages.append({"role": "user", "parts": request.message.parts})
    try:
        await rules.prepare(to_model_messages(messages))
    except AttachmentRejected as exc:
        raise BadRequest(f"file part: {exc.message}") from None


def offered_tools(deps: TurnDeps, request: TurnRequest) -> dict[str, Tool]:
    """ai-chatbot's turns: our tools. Client-context turns: our tools when
    ASSISTANT_UI_BACKEND_TOOLS is on (the simple body only those needing no approval, which
    it cannot give), plus the client's frontend tools."""
    if request.shape == "chatbot":
        return dict(CHAT_TOOLS)
    settings = deps.settings
    tools: dict[str, Tool] = {}
    if settings.assistant_ui_backend_tools:
        tools = {
            name: tool
            for name, tool in CHAT_TOOLS.items()
            if request.shape == "assistant-ui" or not tool.needs_approval(settings)
        }
    for spec in request.tools:
        if spec.name in tools:
            raise BadRequest(f"tools.{spec.name}: the name of a backend tool; rename it")
        tools[spec.name] = frontend_tool(spec.name, spec.description, spec.parameters)
    return tools


def admission_ask(
    deps: TurnDeps,
    user: AuthUser,
    request: TurnRequest,
    chat_id: uuid.UUID,
    tools: dict[str, Tool],
) -> AdmissionAsk:
    settings = deps.settings
    message = request.message
    return AdmissionAsk(
        user_id=user.id,
        chat_id=chat_id,
        stream_id=uuid.uuid4(),
        created_at=utcnow(),
        visibility=request.visibility,
        max_per_day=settings.max_messages_per_day(user.type),
        # Stored context: the new (or continued) message is one of the history's messages.
        history_limit=settings.chat_max_history_messages - 1 if request.context is None else 0,
        message_id=message_uuid(chat_id, message.id) if message is not None else None,
        parts=message.parts if message is not None else None,
        replaces=request.replaces,
        continues=message_uuid(chat_id, request.continues) if request.continues else None,
        answers=request.answers,
        tools=tools,
    )


def plan(
    deps: TurnDeps,
    request: TurnRequest,
    ask: AdmissionAsk,
    admitted: Admitted,
    model_id: str,
    model: ResolvedModel,
    hints: prompts.RequestHints,
    rules: AttachmentRules | None = None,
) -> TurnPlan:
    """The producer's plan: the context (stored or the client's), then the new message."""
    settings = deps.settings
    if request.context is None:
        context = [{"role": role, "parts": parts} for _, role, parts, _ in admitted.history]
    else:
        context = list(request.context)[-settings.chat_max_history_messages :]
    if ask.parts is not None:
        context.append({"role": "user", "parts": ask.parts})
    continuing = admitted.continuing
    max_tokens = min(
        request.max_output_tokens or settings.max_output_tokens,
        model.max_output_tokens or settings.max_output_tokens,
        settings.max_output_tokens,
    )
    return TurnPlan(
        stream_id=ask.stream_id,
        chat_id=ask.chat_id,
        user_id=ask.user_id,
        model_id=model_id,
        targets=model.targets,
        retry=model.retry,
        reasoning=model.reasoning,
        system=request.system or prompts.system_prompt(model_id, hints),
        context=context,
        reply_id=uuid.UUID(continuing["id"]) if continuing is not None else uuid.uuid4(),
        continuing=continuing,
        title_parts=ask.parts if admitted.new_chat else None,
        tools=ask.tools or {},
        temperature=request.temperature,
        max_output_tokens=max_tokens,
        usage_metadata=request.shape != "chatbot",
        attachments=rules,
        durable=admitted.durable,
    )


# --- resume and stop -------------------------------------------------------------------------


async def live_stream(deps: TurnDeps, user: AuthUser, chat_id: uuid.UUID) -> str | None:
    """The chat's live stream, for a resume: the chat must be one the user may read."""
    async with deps.session_factory() as session:
        await chats.chat_for(session, chat_id, user.id, change=False)
    return await deps.stream_log.active_stream(str(chat_id))


async def stop_turn(deps: TurnDeps, user: AuthUser, chat_id: uuid.UUID) -> bool:
    """Ask the chat's live turn to stop (its owner only). True if one was live."""
    async with deps.session_factory() as session:
        await chats.chat_for(session, chat_id, user.id, change=True)
    stream_key = await deps.stream_log.active_stream(str(chat_id))
    if stream_key is None:
        return False
    return await deps.stream_log.request_stop(stream_key)
