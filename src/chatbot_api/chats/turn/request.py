"""`POST /api/chat`'s three body shapes told apart and parsed into one `TurnRequest`: what the
client asks (a new message, a regenerate, a continuation) and whose messages are the context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from chatbot_api.ai.convert import tool_name_of
from chatbot_api.chats.turn.bodies import (
    CHATBOT_FILE_TYPES,
    SYSTEM_MAX_CHARS,
    AssistantUIBodyIn,
    ChatbotBodyIn,
    ClientMessageIn,
    FilePartIn,
    SimpleBodyIn,
    UserMessageIn,
)
from chatbot_api.core.errors import BadRequest

MAX_BODY_BYTES = 16 * 1024 * 1024
Shape = Literal["chatbot", "assistant-ui", "simple"]
ACCEPTED_SHAPES = (
    "the body must be one of: (1) ai-chatbot's {id, message: {id, role, parts}, "
    "selectedChatModel, selectedVisibilityType}; (2) the AI SDK default {id, messages: "
    "[UI messages with parts], trigger} (assistant-ui adds system, tools, callSettings, config, "
    'metadata); (3) the simple {"messages": [{"role": "user", "content": "Hello"}]}'
)
ASSISTANT_UI_KEYS = ("system", "tools", "callSettings", "config", "metadata")
APPROVAL_STATES = frozenset({"approval-responded", "output-denied"})
M = TypeVar("M", bound=BaseModel)
_ID_NAMESPACE = uuid.UUID("5b8f0d3e-7a51-4c47-9f1c-3f0f6b2f2a11")


@dataclass(frozen=True, slots=True)
class ToolDef:
    """A frontend tool the client offers: the model sees its JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """The new user message: its id as the client sent it, and its parts."""

    id: str
    parts: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One `POST /api/chat`, whichever shape it came in.

    `context` None: the chat's stored messages are the model's context (ai-chatbot); else the
    client's messages before its last one are (assistant-ui, simple). `continues` names the
    stored assistant message the request continues with the client's `answers` (approval
    answers, frontend tool results); `replaces`: the new message may take the place of the
    stored user message with its id, and of everything after it (a regenerate)."""

    shape: Shape
    chat_ref: uuid.UUID | str  # the chat's UUID, or a client's non-UUID id (per user)
    message: NewMessage | None = None
    replaces: bool = False
    continues: str | None = None
    answers: tuple[dict[str, Any], ...] = ()
    context: tuple[dict[str, Any], ...] | None = None
    visibility: Literal["public", "private"] = "private"
    model_id: str | None = None
    system: str | None = None
    tools: tuple[ToolDef, ...] = ()
    temperature: float | None = None
    max_output_tokens: int | None = None
    api_key: str | None = None
    base_url: str | None = None

    def chat_id(self, user_id: uuid.UUID) -> uuid.UUID:
        """The chat row: the id itself when it is a UUID, else a stable UUID per user and id."""
        if isinstance(self.chat_ref, uuid.UUID):
            return self.chat_ref
        return uuid.uuid5(_ID_NAMESPACE, f"{user_id}:{self.chat_ref}")


def message_uuid(chat_id: uuid.UUID, client_id: str) -> uuid.UUID:
    """A client's message id as a UUID: itself when it is one, else derived from it within
    the chat (`useChat` without `generateId` sends short ids)."""
    try:
        return uuid.UUID(client_id)
    except ValueError:
        return uuid.uuid5(chat_id, client_id)


def parse_turn_request(raw: bytes, *, any_file_type: bool = False) -> TurnRequest:
    """Parse (as JSON, whatever the Content-Type) and validate any of the three shapes:
    400 `bad_request:api` naming the offending field. `any_file_type` (ALLOW_DOCUMENT_
    ATTACHMENTS): ai-chatbot's new message may carry files beyond its JPEG/PNG."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body must be JSON.") from None
    shape = classify(data)
    if shape == "chatbot":
        return _chatbot(validate(ChatbotBodyIn, data), any_file_type=any_file_type)
    if shape == "simple":
        return _simple(validate(SimpleBodyIn, data))
    return _assistant_ui(validate(AssistantUIBodyIn, data))


def classify(data: Any) -> Shape:
    """Which shape the body has; 400 naming the accepted ones otherwise. The plain AI SDK
    default body is ai-chatbot's shape (the server's history is its context)."""
    if not isinstance(data, dict):
        raise BadRequest(f"message: {ACCEPTED_SHAPES}")
    if isinstance(data.get("message"), dict) or any(
        key in data for key in ("selectedChatModel", "selectedVisibilityType")
    ):
        return "chatbot"
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(f"message (or messages): {ACCEPTED_SHAPES}")
    if all(isinstance(m, dict) and isinstance(m.get("parts"), list) for m in messages):
        return "assistant-ui" if any(k in data for k in ASSISTANT_UI_KEYS) else "chatbot"
    if all(
        isinstance(m, dict) and isinstance(m.get("content"), str) and "parts" not in m
        for m in messages
    ):
        return "simple"
    raise BadRequest(f"messages: {ACCEPTED_SHAPES}")


# --- ai-chatbot's body -------------------------------------------------------------------


def _chatbot(body: ChatbotBodyIn, *, any_file_type: bool) -> TurnRequest:
    """A new message (`message`, or the SDK default's last user message), or an approval
    continuation (`messages` whose last message is the assistant's or carries answers)."""
    if body.message is not None and not any_file_type:
        _images_only(body.message, "message")
    message = _new_message(body.message) if body.message is not None else None
    messages = body.messages
    answers: tuple[dict[str, Any], ...] = ()
    continues = None
    if messages and _is_approval_flow(messages):
        answers = tuple(_approval_answers(messages))
        if messages[-1].role == "assistant":
            continues = messages[-1].id
    if message is None and messages and messages[-1].role == "user":
        message = _last_user_message(body.id, messages, any_file_type=any_file_type)
    if message is None and continues is None:
        raise BadRequest("message: a user message (or messages) is required")
    if message is not None and continues is not None:
        raise BadRequest("message: send a new message or continue the assistant's, not both")
    return TurnRequest(
        shape="chatbot",
        chat_ref=body.id,
        message=message,
        replaces=body.trigger == "regenerate-message",
        continues=continues,
        answers=answers,
        visibility=body.selected_visibility_type,
        model_id=body.selected_chat_model,
    )


def _is_approval_flow(messages: list[ClientMessageIn]) -> bool:
    """As ai-chatbot's client decides: the last message is not the user's, or some tool part
    carries an approval answer."""
    if messages[-1].role != "user":
        return True
    return any(part.get("state") in APPROVAL_STATES for m in messages for part in m.parts)


def _approval_answers(messages: list[ClientMessageIn]) -> list[dict[str, Any]]:
    return [
        part
        for message in messages
        for part in message.parts
        if tool_name_of(part) is not None and part.get("state") in APPROVAL_STATES
    ]


def _images_only(message: UserMessageIn, where: str) -> None:
    """ai-chatbot's rule for a new message's files: JPEG or PNG."""
    for index, part in enumerate(message.parts):
        if isinstance(part, FilePartIn) and part.media_type not in CHATBOT_FILE_TYPES:
            raise BadRequest(f"{where}.parts.{index}.mediaType: must be image/jpeg or image/png")


def _new_message(message: UserMessageIn) -> NewMessage:
    return NewMessage(str(message.id), message.ui_parts())


def _last_user_message(
    chat_id: uuid.UUID, messages: list[ClientMessageIn], *, any_file_type: bool
) -> NewMessage:
    """The SDK default body's new message: its last, validated as ai-chatbot's message (its
    id may be the client's own short id, mapped to a stable UUID within the chat)."""
    index = len(messages) - 1
    data = messages[index].model_dump()
    data["id"] = message_uuid(chat_id, data["id"])
    message = validate(UserMessageIn, data, f"messages.{index}")
    if not any_file_type:
        _images_only(message, f"messages.{index}")
    return _new_message(message)


# --- the client-context bodies ------------------------------------------------------------


def _client_ref(raw_id: str | None) -> uuid.UUID | str:
    if raw_id is None:
        return uuid.uuid4()  # a new chat each time
    try:
        return uuid.UUID(raw_id)
    except ValueError:
        return raw_id


def _assistant_ui(body: AssistantUIBodyIn) -> TurnRequest:
    """The client's messages are the context; a last assistant message is continued with the
    client's answers, a last user message is the new one (or regenerated, by its id)."""
    last = body.messages[-1]
    if last.role == "system":
        raise BadRequest("messages: the last message must be the user's or the assistant's")
    settings = body.call_settings
    config = body.config
    temperature = settings.temperature if settings is not None else None
    request = TurnRequest(
        shape="assistant-ui",
        chat_ref=_client_ref(body.id),
        context=tuple(m.model_dump() for m in body.messages[:-1]),
        system=body.system or None,
        tools=tuple(
            ToolDef(name, tool.description, tool.parameters)
            for name, tool in sorted((body.tools or {}).items())
        ),
        temperature=None if temperature is None else min(2.0, max(0.0, temperature)),
        max_output_tokens=settings.max_tokens if settings is not None else None,
        model_id=config.model_name if config is not None else None,
        api_key=config.api_key if config is not None else None,
        base_url=config.base_url if config is not None else None,
    )
    if last.role == "assistant":
        answers = tuple(p for p in last.parts if tool_name_of(p) is not None)
        return replace(request, continues=last.id, answers=answers)
    return replace(request, message=NewMessage(last.id, last.parts), replaces=True)


def _simple(body: SimpleBodyIn) -> TurnRequest:
    """`{role, content}` messages become UI messages; `system` messages join the system
    prompt."""
    last = body.messages[-1]
    if last.role != "user" or not last.content.strip():
        raise BadRequest("messages: the last message must be the user's, with some content")
    systems = [m.content for m in body.messages if m.role == "system" and m.content]
    if body.system:
        systems.insert(0, body.system)
    system = "\n\n".join(systems)
    if len(system) > SYSTEM_MAX_CHARS:
        raise BadRequest(f"system: must be at most {SYSTEM_MAX_CHARS} characters in all")
    context = tuple(
        {"id": str(uuid.uuid4()), "role": m.role, "parts": [{"type": "text", "text": m.content}]}
        for m in body.messages[:-1]
        if m.role != "system" and m.content
    )
    return TurnRequest(
        shape="simple",
        chat_ref=_client_ref(body.id or body.thread_id),
        message=NewMessage(str(uuid.uuid4()), [{"type": "text", "text": last.content}]),
        context=context,
        system=system or None,
        model_id=body.model,
    )


# --- validation ----------------------------------------------------------------------------


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    """The model from the parsed body; 400 naming the first problems."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(describe(exc, prefix)) from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """`message.parts.0.text: must be 1 to 2000 characters` (the first three problems)."""
    problems = []
    for error in exc.errors()[:3]:
        loc = [prefix] if prefix else []
        previous: Any = None
        for item in error["loc"]:
            # Drop the union tag pydantic puts after a list index (`parts.0.text.text`).
            if not (isinstance(previous, int) and item in ("text", "file")):
                loc.append(str(item))
            previous = item
        msg = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(problems) or "invalid body"
