"""UI messages (AI SDK parts, as stored or received) to provider-neutral model messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chatbot_api.ai.base import (
    ContentPart,
    FilePart,
    ImagePart,
    ModelMessage,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

DENIED_OUTPUT = "The user denied this tool call."
# Tool part states that mean the call happened (or was answered) and has an outcome.
_DONE_STATES = frozenset({"output-available", "output-error", "output-denied"})


def tool_name_of(part: Mapping[str, Any]) -> str | None:
    """`getWeather` for a `tool-getWeather` part, the `toolName` of a `dynamic-tool` part,
    None for anything else."""
    kind = part.get("type")
    if not isinstance(kind, str):
        return None
    if kind == "dynamic-tool":
        name = part.get("toolName")
        return name if isinstance(name, str) else None
    if kind.startswith("tool-"):
        return kind[5:]
    return None


def to_model_messages(
    messages: Iterable[Mapping[str, Any]], *, keep_reasoning: bool = False
) -> list[ModelMessage]:
    """The model's view of a conversation of UI messages (`{role, parts}`).

    Data parts, sources and step markers carry nothing for the model; an assistant message
    is split at its steps into assistant turns, each followed by the results of its tool
    calls. A tool call without an outcome (still awaiting approval) is left out, so every
    call the model sees has its result. System messages are ignored: the server owns the
    system prompt.
    """
    result: list[ModelMessage] = []
    for message in messages:
        role = message.get("role")
        parts = message.get("parts") or []
        if role == "user":
            content = _user_content(parts)
            if content:
                result.append(ModelMessage(role="user", content=content))
        elif role == "assistant":
            result.extend(_assistant_messages(parts, keep_reasoning=keep_reasoning))
    return result


def _user_content(parts: Sequence[Mapping[str, Any]]) -> list[ContentPart]:
    content: list[ContentPart] = []
    for part in parts:
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            content.append(TextPart(text=str(part["text"])))
        elif kind == "file":
            content.append(_file_part(part))
    return content


def _file_part(part: Mapping[str, Any]) -> ImagePart | FilePart:
    """An image, or any other file (its bytes are read later: ai/attachments.py)."""
    media_type = str(part.get("mediaType") or "application/octet-stream").lower()
    url = str(part.get("url", ""))
    if media_type.startswith("image/"):
        return ImagePart(url=url, media_type=media_type)
    name = part.get("filename") or part.get("name")  # AI SDK: filename; ai-chatbot: name
    return FilePart(media_type, str(name) if name else None, url=url)


def _assistant_messages(
    parts: Sequence[Mapping[str, Any]], *, keep_reasoning: bool
) -> list[ModelMessage]:
    out: list[ModelMessage] = []
    calls: list[ContentPart] = []
    results: list[ContentPart] = []

    def flush() -> None:
        if calls:
            out.append(ModelMessage(role="assistant", content=list(calls)))
        if results:
            out.append(ModelMessage(role="tool", content=list(results)))
        calls.clear()
        results.clear()

    for part in parts:
        kind = part.get("type")
        if kind == "step-start":
            flush()
        elif kind == "text" and part.get("text"):
            calls.append(TextPart(text=str(part["text"])))
        elif kind == "reasoning" and keep_reasoning and part.get("text"):
            calls.append(ReasoningPart(text=str(part["text"])))
        else:
            name = tool_name_of(part)
            outcome = tool_outcome(part, name) if name else None
            if name and outcome is not None:
                calls.append(ToolCallPart(str(part.get("toolCallId")), name, part.get("input")))
                results.append(outcome)
    flush()
    return out


def tool_outcome(part: Mapping[str, Any], name: str) -> ToolResultPart | None:
    """The result the model should see for a tool part, or None while it has none."""
    state = part.get("state")
    call_id = str(part.get("toolCallId"))
    approval = part.get("approval")
    denied = isinstance(approval, Mapping) and approval.get("approved") is False
    if state == "output-available":
        return ToolResultPart(call_id, name, model_output(part.get("output")))
    if state == "output-error":
        return ToolResultPart(call_id, name, str(part.get("errorText", "")), is_error=True)
    if state == "output-denied" or (state == "approval-responded" and denied):
        reason = approval.get("reason") if isinstance(approval, Mapping) else None
        text = f"{DENIED_OUTPUT} Reason: {reason}" if reason else DENIED_OUTPUT
        return ToolResultPart(call_id, name, text, is_error=True)
    return None


def model_output(output: Any) -> Any:
    """What the model sees of a tool output: an assistant-ui `{"__aui_modelContent": [parts],
    "value": …}` envelope gives its content (text parts as text), anything else is itself."""
    if not isinstance(output, Mapping) or "__aui_modelContent" not in output:
        return output
    content = output["__aui_modelContent"]
    if not isinstance(content, list):
        return output.get("value")
    texts = [p.get("text") for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
    if texts and len(texts) == len(content):
        return "\n".join(str(text) for text in texts)
    return content
