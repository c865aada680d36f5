"""The three `POST /api/chat` body shapes told apart, and the two client-context bodies parsed:
assistant-ui's `AssistantChatTransport` body and the simple `{role, content}` messages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, field_validator

from chatbot_api.ai.convert import tool_name_of
from chatbot_api.chats.chat_request import (
    MAX_BODY_BYTES,
    MAX_MESSAGES,
    MAX_PARTS,
    ChatRequest,
    _validate,
    parse_chat_data,
)
from chatbot_api.core.errors import BadRequest

BodyKind = Literal["chatbot", "sdk", "assistant-ui", "simple"]
ACCEPTED_SHAPES = (
    "the body must be one of: (1) ai-chatbot's {id, message: {id, role, parts}, "
    "selectedChatModel, selectedVisibilityType}; (2) the AI SDK default {id, messages: "
    "[UI messages with parts], trigger} (assistant-ui adds system, tools, callSettings, config, "
    'metadata); (3) the simple {"messages": [{"role": "user", "content": "Hello"}]}'
)
ASSISTANT_UI_KEYS = ("system", "tools", "callSettings", "config", "metadata")
CLIENT_TEXT_MAX_CHARS = 100_000
SYSTEM_MAX_CHARS = 32_000
MAX_TOOLS = 64
TOOL_DESCRIPTION_MAX_CHARS = 4_000
TOOL_SCHEMA_MAX_BYTES = 32 * 1024
TOOL_OUTPUT_MAX_BYTES = 256 * 1024
CHAT_ID_MAX_CHARS = 200
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_STATES = frozenset(
    {
        "input-streaming",
        "input-available",
        "approval-requested",
        "approval-responded",
        "output-available",
        "output-error",
        "output-denied",
    }
)
PLAIN_PARTS = frozenset(
    {"text", "reasoning", "file", "source-url", "source-document", "step-start"}
)
_ID_NAMESPACE = uuid.UUID("5b8f0d3e-7a51-4c47-9f1c-3f0f6b2f2a11")


@dataclass(frozen=True, slots=True)
class ToolDef:
    """A frontend tool the client offers: the model sees its JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClientTurn:
    """A turn whose context is the client's messages (assistant-ui or the simple body)."""

    kind: Literal["assistant-ui", "simple"]
    raw_id: str | None  # the request's chat id as sent (None: a new chat)
    messages: list[dict[str, Any]]  # validated UI messages `{id, role, parts}`, oldest first
    regenerate: bool = False
    system: str | None = None
    tools: tuple[ToolDef, ...] = ()
    temperature: float | None = None
    max_output_tokens: int | None = None
    model_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None

    @property
    def last(self) -> dict[str, Any]:
        return self.messages[-1]


def chat_uuid(user_id: uuid.UUID, raw_id: str | None) -> uuid.UUID:
    """The chat row of a client turn: the request id when it is a UUID, a stable UUID per
    user and id otherwise, a new one without an id."""
    if raw_id is None:
        return uuid.uuid4()
    try:
        return uuid.UUID(raw_id)
    except ValueError:
        return uuid.uuid5(_ID_NAMESPACE, f"{user_id}:{raw_id}")


# --- telling the bodies apart ------------------------------------------------------------


def classify(data: Any) -> BodyKind:
    """Which shape the body has; 400 `bad_request:api` naming the accepted ones otherwise."""
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
        return "assistant-ui" if any(k in data for k in ASSISTANT_UI_KEYS) else "sdk"
    if all(
        isinstance(m, dict) and isinstance(m.get("content"), str) and "parts" not in m
        for m in messages
    ):
        return "simple"
    raise BadRequest(f"messages: {ACCEPTED_SHAPES}")


def parse_chat_body(raw: bytes) -> ChatRequest | ClientTurn:
    """Parse (whatever the Content-Type) and validate any of the three shapes."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body must be JSON.") from None
    kind = classify(data)
    if kind in ("chatbot", "sdk"):
        return parse_chat_data(data)
    if kind == "simple":
        return _parse_simple(data)
    return _parse_assistant_ui(data)


# --- assistant-ui ---------------------------------------------------------------------------

_STRIP = ConfigDict(extra="ignore")
ChatId = Annotated[str, StringConstraints(min_length=1, max_length=CHAT_ID_MAX_CHARS)] | None


class UIMessageIn(BaseModel):
    model_config = _STRIP
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Literal["user", "assistant", "system"]
    parts: Annotated[list[dict[str, Any]], Field(max_length=MAX_PARTS)]

    @field_validator("parts")
    @classmethod
    def _parts(cls, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, part in enumerate(parts):
            problem = _part_problem(part)
            if problem:
                raise ValueError(f"part {index}: {problem}")
        return parts


class ToolIn(BaseModel):
    model_config = _STRIP
    description: Annotated[str, StringConstraints(max_length=TOOL_DESCRIPTION_MAX_CHARS)] = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})

    @field_validator("parameters")
    @classmethod
    def _size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(orjson.dumps(value)) > TOOL_SCHEMA_MAX_BYTES:
            raise ValueError(f"must be at most {TOOL_SCHEMA_MAX_BYTES} bytes of JSON Schema")
        if value.get("type", "object") != "object":
            raise ValueError('must be an object schema ({"type": "object", …})')
        return value


class CallSettingsIn(BaseModel):
    model_config = _STRIP
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="maxTokens", ge=1)


class ConfigIn(BaseModel):
    model_config = _STRIP
    api_key: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, alias="apiKey"
    )
    base_url: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, alias="baseUrl"
    )
    model_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, alias="modelName"
    )


class AssistantUIBodyIn(BaseModel):
    model_config = _STRIP
    id: ChatId = None
    messages: Annotated[list[UIMessageIn], Field(min_length=1, max_length=MAX_MESSAGES)]
    trigger: Literal["submit-message", "regenerate-message"] | None = None
    system: Annotated[str, StringConstraints(max_length=SYSTEM_MAX_CHARS)] | None = None
    tools: Annotated[dict[str, ToolIn], Field(max_length=MAX_TOOLS)] | None = None
    call_settings: CallSettingsIn | None = Field(default=None, alias="callSettings")
    config: ConfigIn | None = None

    @field_validator("tools")
    @classmethod
    def _names(cls, tools: dict[str, ToolIn] | None) -> dict[str, ToolIn] | None:
        for name in tools or {}:
            if not TOOL_NAME.fullmatch(name):
                raise ValueError(f"tool name {name[:80]!r} must match {TOOL_NAME.pattern}")
        return tools


_AUI = TypeAdapter(AssistantUIBodyIn)


def _parse_assistant_ui(data: dict[str, Any]) -> ClientTurn:
    body: AssistantUIBodyIn = _validate(_AUI, data, "")
    if body.messages[-1].role == "system":
        raise BadRequest("messages: the last message must be the user's or the assistant's")
    settings = body.call_settings or CallSettingsIn()
    config = body.config or ConfigIn()
    tools = tuple(
        ToolDef(name, tool.description, tool.parameters)
        for name, tool in sorted((body.tools or {}).items())
    )
    return ClientTurn(
        kind="assistant-ui",
        raw_id=body.id,
        messages=[m.model_dump() for m in body.messages],
        regenerate=body.trigger == "regenerate-message",
        system=body.system or None,
        tools=tools,
        temperature=_clamp(settings.temperature),
        max_output_tokens=settings.max_tokens,
        model_id=config.model_name,
        api_key=config.api_key,
        base_url=config.base_url,
    )


def _clamp(temperature: float | None) -> float | None:
    return None if temperature is None else min(2.0, max(0.0, temperature))


def _part_problem(part: Mapping[str, Any]) -> str | None:
    kind = part.get("type")
    if not isinstance(kind, str) or not kind:
        return "type is required"
    if kind in ("text", "reasoning"):
        text = part.get("text")
        if not isinstance(text, str) or len(text) > CLIENT_TEXT_MAX_CHARS:
            return f"text must be a string of at most {CLIENT_TEXT_MAX_CHARS} characters"
        return None
    if kind == "file":
        if not isinstance(part.get("url"), str) or not isinstance(part.get("mediaType"), str):
            return "a file part needs url and mediaType"
        return None
    if kind in PLAIN_PARTS or kind.startswith("data-"):
        return None
    if tool_name_of(part) is not None:
        if not isinstance(part.get("toolCallId"), str) or part.get("state") not in TOOL_STATES:
            return "a tool part needs toolCallId and a known state"
        size = len(orjson.dumps({k: part.get(k) for k in ("input", "output", "errorText")}))
        if size > TOOL_OUTPUT_MAX_BYTES:
            return f"tool input and output must be at most {TOOL_OUTPUT_MAX_BYTES} bytes"
        return None
    return f"unknown part type {kind[:60]!r}"


# --- the simple body ----------------------------------------------------------------------


class SimpleMessageIn(BaseModel):
    model_config = _STRIP
    role: Literal["user", "assistant", "system"]
    content: Annotated[str, StringConstraints(max_length=CLIENT_TEXT_MAX_CHARS)]


class SimpleBodyIn(BaseModel):
    model_config = _STRIP
    id: ChatId = None
    thread_id: ChatId = None
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    system: Annotated[str, StringConstraints(max_length=SYSTEM_MAX_CHARS)] | None = None
    messages: Annotated[list[SimpleMessageIn], Field(min_length=1, max_length=MAX_MESSAGES)]


_SIMPLE = TypeAdapter(SimpleBodyIn)


def _parse_simple(data: dict[str, Any]) -> ClientTurn:
    """`{role, content}` messages become UI messages; `system` messages join the system prompt."""
    body: SimpleBodyIn = _validate(_SIMPLE, data, "")
    if body.messages[-1].role != "user" or not body.messages[-1].content.strip():
        raise BadRequest("messages: the last message must be the user's, with some content")
    systems = [m.content for m in body.messages if m.role == "system" and m.content]
    if body.system:
        systems.insert(0, body.system)
    messages = [
        {"id": str(uuid.uuid4()), "role": m.role, "parts": [{"type": "text", "text": m.content}]}
        for m in body.messages
        if m.role != "system" and m.content
    ]
    system = "\n\n".join(systems)
    if len(system) > SYSTEM_MAX_CHARS:
        raise BadRequest(f"system: must be at most {SYSTEM_MAX_CHARS} characters in all")
    return ClientTurn(
        kind="simple",
        raw_id=body.id or body.thread_id,
        messages=messages,
        system=system or None,
        model_id=body.model,
    )
