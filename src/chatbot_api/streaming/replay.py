"""A UI message stream read back: its SSE bytes replayed into a writer (the message as the
client assembled it, what is still open), and the ending of a stream cut short."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from chatbot_api.streaming.accumulator import ProtocolError, is_tool_part
from chatbot_api.streaming.writer import UIMessageWriter

_OPEN_CALL_STATES = frozenset({"input-streaming", "input-available"})


def _ignore(_: bytes) -> None:
    return None


def replay(events: bytes, message: Mapping[str, Any] | None = None) -> UIMessageWriter:
    """A writer that has written `events` (whole SSE events, as logged): its message is what
    the client assembled from them (starting from `message` for a continuation). Chunks the
    writer does not produce are skipped."""
    writer = UIMessageWriter(_ignore, message=message)
    for event in events.split(b"\n\n"):
        payload = event.removeprefix(b"data: ")
        if not payload or payload == b"[DONE]":
            continue
        try:
            chunk = orjson.loads(payload)
            kind = str(chunk.get("type", ""))
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(writer, chunk)
            elif kind.startswith("data-") and not chunk.get("transient"):
                writer.data(kind[5:], chunk.get("data"), chunk.get("id"))
        except (orjson.JSONDecodeError, ProtocolError, KeyError, AttributeError):
            continue  # a chunk the message cannot take: the client skipped it too
    return writer


def cut_short_ending(writer: UIMessageWriter, error_text: str) -> bytes:
    """The chunks that end a replayed stream cut short: every tool call of the open step that
    has no outcome fails with `error_text`, then the writer's ending (`end`) with it."""
    out: list[bytes] = []
    writer.redirect(out.append)
    parts = writer.message_parts()
    start = max((i for i, p in enumerate(parts) if p.get("type") == "step-start"), default=-1)
    for part in parts[start + 1 :]:
        if is_tool_part(part) and part.get("state") in _OPEN_CALL_STATES:
            writer.tool_output_error(str(part["toolCallId"]), error_text)
    writer.end("error", error_text=error_text)
    return b"".join(out)


Handler = Callable[[UIMessageWriter, dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {
    "start": lambda w, c: w.start(c.get("messageId"), c.get("messageMetadata")),
    "start-step": lambda w, c: w.start_step(),
    "finish-step": lambda w, c: w.finish_step(),
    "message-metadata": lambda w, c: w.message_metadata(c.get("messageMetadata")),
    "text-start": lambda w, c: w.text_start(c["id"]),
    "text-delta": lambda w, c: w.text_delta(c["id"], c["delta"]),
    "text-end": lambda w, c: w.text_end(c["id"]),
    "reasoning-start": lambda w, c: w.reasoning_start(c["id"]),
    "reasoning-delta": lambda w, c: w.reasoning_delta(c["id"], c["delta"]),
    "reasoning-end": lambda w, c: w.reasoning_end(c["id"]),
    "tool-input-start": lambda w, c: w.tool_input_start(
        c["toolCallId"], c["toolName"], bool(c.get("dynamic"))
    ),
    "tool-input-delta": lambda w, c: w.tool_input_delta(c["toolCallId"], c["inputTextDelta"]),
    "tool-input-available": lambda w, c: w.tool_input_available(
        c["toolCallId"], c["toolName"], c.get("input"), bool(c.get("dynamic"))
    ),
    "tool-input-error": lambda w, c: w.tool_input_error(
        c["toolCallId"], c["toolName"], c.get("input"), c["errorText"], bool(c.get("dynamic"))
    ),
    "tool-output-available": lambda w, c: w.tool_output_available(
        c["toolCallId"], c.get("output"), preliminary=bool(c.get("preliminary"))
    ),
    "tool-output-error": lambda w, c: w.tool_output_error(c["toolCallId"], c["errorText"]),
    "tool-approval-request": lambda w, c: w.tool_approval_request(c["approvalId"], c["toolCallId"]),
    "tool-output-denied": lambda w, c: w.tool_output_denied(c["toolCallId"]),
}
