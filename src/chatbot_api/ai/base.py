"""The provider interface: provider-neutral request/messages in, a stream of small events out.

This is the per-token hot path (DESIGN.md, "LLM layer"): events are plain slotted classes,
created once per provider SSE event, never validated with pydantic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# ---------------------------------------------------------------------------------------
# Request side
# ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImagePart:
    """An image by URL (http(s) or data:)."""

    url: str
    media_type: str
    type: Literal["image"] = "image"


@dataclass(slots=True)
class FilePart:
    """A non-image file of a user message: its bytes (`data`, read from our storage or a
    data: URL) or, for an external file, its `url` only (never fetched by us)."""

    media_type: str
    filename: str | None = None
    url: str | None = None
    data: bytes | None = None
    type: Literal["file"] = "file"


@dataclass(slots=True)
class ReasoningPart:
    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(slots=True)
class ToolCallPart:
    tool_call_id: str
    tool_name: str
    input: Any
    type: Literal["tool-call"] = "tool-call"


@dataclass(slots=True)
class ToolResultPart:
    tool_call_id: str
    tool_name: str
    output: Any
    is_error: bool = False
    type: Literal["tool-result"] = "tool-result"


ContentPart = TextPart | ImagePart | FilePart | ReasoningPart | ToolCallPart | ToolResultPart


@dataclass(slots=True)
class ModelMessage:
    """One conversation message for a provider.

    user: text/image/file parts; assistant: text/reasoning/tool-call parts; tool: tool-result parts.
    """

    role: Literal["user", "assistant", "tool"]
    content: list[ContentPart]


@dataclass(slots=True)
class ToolSpec:
    """A tool offered to the model: JSON Schema of its input."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ModelRequest:
    model: str  # the provider's own model id (after registry mapping)
    messages: list[ModelMessage]
    system: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    max_output_tokens: int | None = None
    temperature: float | None = None
    reasoning: bool = False  # ask for thinking/reasoning where the provider supports it
    reasoning_budget_tokens: int = 10_000


# ---------------------------------------------------------------------------------------
# Stream side: one model step
# ---------------------------------------------------------------------------------------


class TextDelta:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class ReasoningDelta:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class ToolCallStart:
    __slots__ = ("tool_call_id", "tool_name")

    def __init__(self, tool_call_id: str, tool_name: str) -> None:
        self.tool_call_id = tool_call_id
        self.tool_name = tool_name


class ToolCallDelta:
    __slots__ = ("args_delta", "tool_call_id")

    def __init__(self, tool_call_id: str, args_delta: str) -> None:
        self.tool_call_id = tool_call_id
        self.args_delta = args_delta


class ToolCallEnd:
    """The complete call. `input` is the parsed JSON arguments; `input_error` is set (and
    `input` holds the raw text) when the model produced arguments that are not valid JSON."""

    __slots__ = ("input", "input_error", "tool_call_id", "tool_name")

    def __init__(
        self, tool_call_id: str, tool_name: str, input: Any, input_error: str | None = None
    ) -> None:
        self.tool_call_id = tool_call_id
        self.tool_name = tool_name
        self.input = input
        self.input_error = input_error


@dataclass(slots=True)
class Usage:
    """A step's (or a turn's) tokens as the vendor reported them. `input_tokens` counts every
    input token, cached ones included; `cached_input_tokens` were read from the vendor's
    prompt cache, `cache_write_input_tokens` written to it (Anthropic)."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None

    def add(self, step: Usage) -> None:
        """Accumulate one step's usage into this (a turn's) total."""
        self.input_tokens += step.input_tokens
        self.output_tokens += step.output_tokens
        if step.reasoning_tokens is not None:
            self.reasoning_tokens = (self.reasoning_tokens or 0) + step.reasoning_tokens
        if step.cached_input_tokens is not None:
            self.cached_input_tokens = (self.cached_input_tokens or 0) + step.cached_input_tokens
        if step.cache_write_input_tokens is not None:
            written = (self.cache_write_input_tokens or 0) + step.cache_write_input_tokens
            self.cache_write_input_tokens = written


FinishReason = Literal["stop", "length", "content-filter", "tool-calls", "error", "other"]


class StepFinish:
    """Always the last event of a successful step. `model`: the model that answered, as the
    upstream named it (None: the one asked for)."""

    __slots__ = ("model", "reason", "usage")

    def __init__(self, reason: FinishReason, usage: Usage, model: str | None = None) -> None:
        self.reason = reason
        self.usage = usage
        self.model = model


ModelEvent = TextDelta | ReasoningDelta | ToolCallStart | ToolCallDelta | ToolCallEnd | StepFinish


class ProviderError(Exception):
    """A provider failed. `public_message` is short and safe to show a user (never the
    provider's raw body); the full detail goes to the logs only; `retryable` says whether a
    retry or a fallback model may succeed where this failed."""

    def __init__(
        self,
        public_message: str,
        *,
        detail: str = "",
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail or public_message)
        self.public_message = public_message
        self.detail = detail
        self.status = status
        # Worth another try before the first token: no connection, 408, 429 or a 5xx.
        self.retryable = retryable if retryable is not None else is_retryable_status(status)
        self.retry_after = retry_after  # seconds, from the provider's Retry-After


def is_retryable_status(status: int | None) -> bool:
    return status is not None and (status in (408, 409, 429) or status >= 500)


# What a provider takes as attachments (besides text, which the turn inlines for all):
# media type patterns (`image/*`, `application/pdf`, `*/*`) as bytes, and as URLs.
IMAGES: frozenset[str] = frozenset({"image/*"})


@dataclass(frozen=True, slots=True)
class InputTypes:
    """The attachments a provider takes: by their bytes (`data`), by an https URL (`urls`)."""

    data: frozenset[str] = IMAGES
    urls: frozenset[str] = IMAGES


DEFAULT_INPUT_TYPES = InputTypes()  # a provider that declares nothing: images only


def media_type_matches(patterns: frozenset[str], media_type: str) -> bool:
    """Whether `media_type` is one of `patterns` (exact, `type/*` or `*/*`)."""
    media_type = media_type.lower()
    major = media_type.split("/", 1)[0]
    return bool({media_type, f"{major}/*", "*/*"} & patterns)


def input_types(provider: object) -> InputTypes:
    """The provider's `input_types` declaration, or images only when it has none."""
    declared = getattr(provider, "input_types", None)
    return declared if isinstance(declared, InputTypes) else DEFAULT_INPUT_TYPES


class Provider(Protocol):
    """Streams one model step. Must stop (and close its upstream HTTP response) promptly when
    the consuming task is cancelled; must raise ProviderError for upstream failures, for an
    event it cannot read and for an upstream idle longer than its configured timeout."""

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]: ...

    async def aclose(self) -> None: ...
