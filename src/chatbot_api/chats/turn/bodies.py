"""The wire models of the three `POST /api/chat` body shapes, with their bounds: ai-chatbot's
body (and the plain AI SDK default), assistant-ui's `AssistantChatTransport` body, and the
simple `{role, content}` messages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chatbot_api.ai.convert import tool_name_of

TEXT_MAX_CHARS = 2000  # ai-chatbot's own bound on a new message's text part
FILE_NAME_MAX_CHARS = 100
MAX_PARTS = 100
MAX_MESSAGES = 1000
CLIENT_TEXT_MAX_CHARS = 100_000
SYSTEM_MAX_CHARS = 32_000
MAX_TOOLS = 64
TOOL_DESCRIPTION_MAX_CHARS = 4_000
TOOL_SCHEMA_MAX_BYTES = 32 * 1024
TOOL_OUTPUT_MAX_BYTES = 256 * 1024
ID_MAX_CHARS = 200
CHATBOT_FILE_TYPES = frozenset({"image/jpeg", "image/png"})  # ai-chatbot's own rule
MEDIA_TYPE = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
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
_STRIP = ConfigDict(extra="ignore")
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_CHARS)]
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def js_length(text: str) -> int:
    """Length in UTF-16 code units, as JavaScript's `String#length` counts."""
    return len(text.encode("utf-16-le")) // 2


def _valid_url(url: str) -> bool:
    """Roughly what the WHATWG URL parser accepts: a scheme, and a host for web schemes."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if not parts.scheme or not parts.scheme[0].isalpha():
        return False
    if parts.scheme in ("http", "https", "ws", "wss", "ftp"):
        return bool(parts.hostname)
    return True


# --- ai-chatbot's body ------------------------------------------------------------------


class TextPartIn(BaseModel):
    model_config = _STRIP
    type: Literal["text"]
    text: str

    @field_validator("text")
    @classmethod
    def _length(cls, value: str) -> str:
        if not 1 <= js_length(value) <= TEXT_MAX_CHARS:
            raise ValueError(f"must be 1 to {TEXT_MAX_CHARS} characters")
        return value


class FilePartIn(BaseModel):
    """Any `type/subtype` passes here: ai-chatbot's JPEG/PNG rule is applied by the parse
    unless ALLOW_DOCUMENT_ATTACHMENTS is on, and the model's provider decides before
    admission (ai/attachments.py): a 400 naming what it refuses."""

    model_config = _STRIP
    type: Literal["file"]
    media_type: Annotated[str, StringConstraints(pattern=MEDIA_TYPE)] = Field(alias="mediaType")
    name: Annotated[str, StringConstraints(min_length=1, max_length=FILE_NAME_MAX_CHARS)]
    url: str
    filename: Annotated[str, StringConstraints(max_length=FILE_NAME_MAX_CHARS)] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _valid_url(value):
            raise ValueError("must be a valid URL")
        return value


UserPart = Annotated[TextPartIn | FilePartIn, Field(discriminator="type")]


class UserMessageIn(BaseModel):
    """The new user message: validated and stripped of unknown keys before it is saved."""

    model_config = _STRIP
    id: uuid.UUID
    role: Literal["user"]
    parts: Annotated[list[UserPart], Field(max_length=MAX_PARTS)]

    def ui_parts(self) -> list[dict[str, Any]]:
        return [part.model_dump(by_alias=True, exclude_none=True) for part in self.parts]


class ClientMessageIn(BaseModel):
    """A message of the client's `messages` list (approval continuation / SDK default body)."""

    model_config = _STRIP
    id: Id
    role: Literal["user", "assistant", "system"]
    parts: Annotated[list[dict[str, Any]], Field(max_length=MAX_PARTS)]


class ChatbotBodyIn(BaseModel):
    """ai-chatbot's body, including its approval continuation, or the plain AI SDK default."""

    model_config = _STRIP
    id: uuid.UUID
    message: UserMessageIn | None = None
    messages: Annotated[list[ClientMessageIn], Field(max_length=MAX_MESSAGES)] | None = None
    selected_chat_model: ModelId | None = Field(default=None, alias="selectedChatModel")
    selected_visibility_type: Literal["public", "private"] = Field(
        default="private", alias="selectedVisibilityType"
    )
    trigger: Literal["submit-message", "regenerate-message"] | None = None


# --- assistant-ui's body ----------------------------------------------------------------


class UIMessageIn(BaseModel):
    model_config = _STRIP
    id: Id
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
    model_name: ModelId | None = Field(default=None, alias="modelName")


class AssistantUIBodyIn(BaseModel):
    model_config = _STRIP
    id: Id | None = None
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


# --- the simple body --------------------------------------------------------------------


class SimpleMessageIn(BaseModel):
    model_config = _STRIP
    role: Literal["user", "assistant", "system"]
    content: Annotated[str, StringConstraints(max_length=CLIENT_TEXT_MAX_CHARS)]


class SimpleBodyIn(BaseModel):
    model_config = _STRIP
    id: Id | None = None
    thread_id: Id | None = None
    model: ModelId | None = None
    system: Annotated[str, StringConstraints(max_length=SYSTEM_MAX_CHARS)] | None = None
    messages: Annotated[list[SimpleMessageIn], Field(min_length=1, max_length=MAX_MESSAGES)]
