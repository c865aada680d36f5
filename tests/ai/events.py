"""Helpers to run a provider and look at what it streamed."""

from __future__ import annotations

from typing import Any

from chatbot_api.ai.base import (
    ModelEvent,
    ModelMessage,
    ModelRequest,
    Provider,
    ProviderError,
    ReasoningDelta,
    StepFinish,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)


def user(text: str) -> ModelMessage:
    return ModelMessage("user", [TextPart(text)])


async def collect(provider: Provider, request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in provider.stream(request)]


async def collect_until_error(
    provider: Provider, request: ModelRequest
) -> tuple[list[ModelEvent], ProviderError]:
    """The events streamed before the provider raised, and its error (which must come)."""
    events: list[ModelEvent] = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    except ProviderError as error:
        return events, error
    raise AssertionError(f"no ProviderError; streamed {events!r}")


def text_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def finish_of(events: list[ModelEvent]) -> StepFinish:
    assert isinstance(events[-1], StepFinish), events[-1]
    return events[-1]


def tool_calls(events: list[ModelEvent]) -> list[ToolCallEnd]:
    return [e for e in events if isinstance(e, ToolCallEnd)]


def summary(events: list[ModelEvent]) -> list[tuple[str, Any]]:
    """A compact view: consecutive text/reasoning deltas merged."""
    out: list[tuple[str, Any]] = []
    for e in events:
        if isinstance(e, TextDelta | ReasoningDelta):
            kind = "text" if isinstance(e, TextDelta) else "reasoning"
            if out and out[-1][0] == kind:
                out[-1] = (kind, out[-1][1] + e.text)
            else:
                out.append((kind, e.text))
        elif isinstance(e, ToolCallStart):
            out.append(("tool-start", (e.tool_call_id, e.tool_name)))
        elif isinstance(e, ToolCallDelta):
            out.append(("tool-delta", (e.tool_call_id, e.args_delta)))
        elif isinstance(e, ToolCallEnd):
            out.append(("tool-end", (e.tool_call_id, e.tool_name, e.input, e.input_error)))
        elif isinstance(e, StepFinish):
            out.append(("finish", e.reason))
    return out
