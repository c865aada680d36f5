"""The `POST /api/chat` body: ai-chatbot's shape, its approval continuation and the SDK default
(the other shapes: chats/client_turn.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from chatbot_api.core.errors import BadRequest

TEXT_MAX_CHARS = 2000
FILE_NAME_MAX_CHARS = 100
MAX_PARTS = 100
MAX_MESSAGES = 1000
MAX_BODY_BYTES = 16 * 1024 * 1024
APPROVAL_STATES = frozenset({"approval-responded", "output-denied"})
_STRIP = ConfigDict(extra="ignore")


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
    model_config = _STRIP
    type: Literal["file"]
    media_type: Literal["image/jpeg", "image/png"] = Field(alias="mediaType")
    name: Annotated[str, StringConstraints(min_length=1, max_length=FILE_NAME_MAX_CHARS)]
    url: str

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
        return [part.model_dump(by_alias=True) for part in self.parts]


class ClientMessageIn(BaseModel):
    """A message of the client's `messages` list (approval continuation / SDK default body)."""

    model_config = _STRIP
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Literal["user", "assistant", "system"]
    parts: Annotated[list[dict[str, Any]], Field(max_length=MAX_PARTS)]


class ChatRequestIn(BaseModel):
    model_config = _STRIP
    id: uuid.UUID
    message: UserMessageIn | None = None
    messages: Annotated[list[ClientMessageIn], Field(max_length=MAX_MESSAGES)] | None = None
    selected_chat_model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = (
        Field(default=None, alias="selectedChatModel")
    )
    selected_visibility_type: Literal["public", "private"] = Field(
        default="private", alias="selectedVisibilityType"
    )
    trigger: Literal["submit-message", "regenerate-message"] | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated turn request: a new user message and/or an approval continuation."""

    chat_id: uuid.UUID
    message: UserMessageIn | None
    approval_messages: list[ClientMessageIn] | None
    model_id: str | None
    visibility: Literal["public", "private"]
    regenerate: bool = False  # SDK `regenerate-message`: replace the reply to `message`


_ADAPTER = TypeAdapter(ChatRequestIn)
_USER_ADAPTER = TypeAdapter(UserMessageIn)


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Parse and validate the body (whatever its Content-Type): 400 `bad_request:api` naming
    the offending field."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body must be JSON.") from None
    return parse_chat_data(data)


def parse_chat_data(data: Any) -> ChatRequest:
    """ai-chatbot's body (or the plain SDK default) once parsed from JSON."""
    body = _validate(_ADAPTER, data, "")
    message, approval = body.message, None
    if body.messages is not None:
        if is_approval_continuation(body.messages):
            approval = body.messages
        if message is None and body.messages and body.messages[-1].role == "user":
            message = _last_user_message(body.id, body.messages)
    if message is None and approval is None:
        raise BadRequest("message: a user message (or messages) is required")
    return ChatRequest(
        chat_id=body.id,
        message=message,
        approval_messages=approval,
        model_id=body.selected_chat_model,
        visibility=body.selected_visibility_type,
        regenerate=body.trigger == "regenerate-message",
    )


def is_approval_continuation(messages: list[ClientMessageIn]) -> bool:
    """As ai-chatbot's client decides: the last message is not the user's, or some tool part
    carries an approval answer."""
    if not messages:
        return False
    if messages[-1].role != "user":
        return True
    return any(part.get("state") in APPROVAL_STATES for m in messages for part in m.parts)


def _last_user_message(chat_id: uuid.UUID, messages: list[ClientMessageIn]) -> UserMessageIn:
    """The new user message of an SDK default body. Its id may be the client's own short id
    (`useChat` without `generateId`): it is mapped to a stable UUID within the chat."""
    index = len(messages) - 1
    data = messages[index].model_dump()
    data["id"] = message_uuid(chat_id, data["id"])
    message: UserMessageIn = _validate(_USER_ADAPTER, data, f"messages.{index}")
    return message


def message_uuid(chat_id: uuid.UUID, client_id: str) -> uuid.UUID:
    """The client's message id as a UUID: itself when it is one, else derived from it."""
    try:
        return uuid.UUID(client_id)
    except ValueError:
        return uuid.uuid5(chat_id, client_id)


def _validate(adapter: TypeAdapter[Any], data: Any, prefix: str) -> Any:
    try:
        return adapter.validate_python(data)
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
