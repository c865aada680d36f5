"""Writes UI message stream chunks: each encoded once to SSE bytes, sent to a sink, accumulated."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import orjson

from chatbot_api.streaming.accumulator import (
    MessageAccumulator,
    Part,
    ProtocolError,
    ProtocolVersion,
)

Sink = Callable[[bytes], None]
FinishReason = Literal["stop", "length", "content-filter", "tool-calls", "error", "other"]
FINISH_REASONS: frozenset[str] = frozenset(
    ("stop", "length", "content-filter", "tool-calls", "error", "other")
)

DONE = b"data: [DONE]\n\n"
_DELTA_END = b"}\n\n"
_dumps = orjson.dumps


class UnsupportedChunk(ProtocolError):
    """The chunk type is newer than the client's protocol version (it would end its stream)."""


def _plain(value: Any) -> Any:
    """The value as the client will see it (JSON types only), for the accumulated message."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    return orjson.loads(_dumps(value))


def _delta_prefix(kind: str, id_key: str, id: str, delta_key: str) -> bytes:
    return (
        b'data: {"type":"'
        + kind.encode()
        + b'","'
        + id_key.encode()
        + b'":'
        + _dumps(id)
        + b',"'
        + delta_key.encode()
        + b'":'
    )


class UIMessageWriter:
    """The turn's one way to emit chunks.

    Every call validates the chunk against what the client accepts, encodes it once, passes
    the bytes to `sink` and updates the accumulated assistant message (`message_parts()`).
    `protocol_version` (5, 6 or 7) is the client's `ai` major: v6+ chunk types raise
    `UnsupportedChunk` on 5.
    """

    __slots__ = ("_acc", "_in_step", "_open_blocks", "_prefixes", "_sink", "protocol_version")

    def __init__(
        self,
        sink: Sink,
        *,
        protocol_version: ProtocolVersion = 6,
        message: Mapping[str, Any] | None = None,
    ) -> None:
        if protocol_version not in (5, 6, 7):
            raise ValueError(f"unsupported protocol version {protocol_version!r}")
        self._sink = sink
        self.protocol_version: ProtocolVersion = protocol_version
        self._acc = MessageAccumulator(message, protocol_version=protocol_version)
        self._prefixes: dict[str, bytes] = {}  # "t"/"r"/"i" + id -> pre-encoded delta prefix
        self._open_blocks: dict[str, Literal["text", "reasoning"]] = {}  # id -> kind
        self._in_step = False

    # --- results ----------------------------------------------------------------------
    @property
    def message_id(self) -> str:
        return self._acc.message_id

    @property
    def metadata(self) -> Any:
        return self._acc.metadata

    @property
    def finish_reason(self) -> str | None:
        return self._acc.finish_reason

    def message_parts(self) -> list[Part]:
        """The assistant message's parts as the client has assembled them so far."""
        return self._acc.parts()

    def redirect(self, sink: Sink) -> None:
        """Send the chunks written from now on to `sink`."""
        self._sink = sink

    def _emit(self, chunk: dict[str, Any]) -> None:
        self._sink(b"data: " + _dumps(chunk) + b"\n\n")

    # --- message lifecycle ------------------------------------------------------------
    def start(self, message_id: str | None = None, metadata: Any = None) -> None:
        chunk: dict[str, Any] = {"type": "start"}
        if message_id is not None:
            chunk["messageId"] = message_id
        if metadata is not None:
            chunk["messageMetadata"] = metadata = _plain(metadata)
        self._acc.start(message_id, metadata)
        self._emit(chunk)

    def start_step(self) -> None:
        self._acc.start_step()
        self._in_step = True
        self._sink(b'data: {"type":"start-step"}\n\n')

    def finish_step(self) -> None:
        self._acc.finish_step()
        self._in_step = False
        if self.protocol_version < 7:
            # Before v7 the client forgets open blocks at a step's end: so does the writer.
            self._prefixes = {k: v for k, v in self._prefixes.items() if k[0] == "i"}
            self._open_blocks.clear()
        self._sink(b'data: {"type":"finish-step"}\n\n')

    def message_metadata(self, metadata: Any) -> None:
        metadata = _plain(metadata)
        self._acc.message_metadata(metadata)
        self._emit({"type": "message-metadata", "messageMetadata": metadata})

    def error(self, error_text: str) -> None:
        self._emit({"type": "error", "errorText": error_text})

    def finish(self, finish_reason: FinishReason | None = None, metadata: Any = None) -> None:
        chunk: dict[str, Any] = {"type": "finish"}
        if finish_reason is not None:
            if finish_reason not in FINISH_REASONS:
                raise ProtocolError(f"finishReason {finish_reason!r} is not accepted by clients")
            chunk["finishReason"] = finish_reason
        if metadata is not None:
            chunk["messageMetadata"] = metadata = _plain(metadata)
        self._acc.finish(finish_reason, metadata)
        self._emit(chunk)

    def done(self) -> None:
        """The `data: [DONE]` terminator (after the last chunk)."""
        self._sink(DONE)

    def end(
        self,
        finish_reason: FinishReason,
        *,
        error_text: str | None = None,
        metadata: Any = None,
    ) -> None:
        """The one way a message ends, whatever ended it: open text and reasoning blocks end,
        then the `error` chunk (if any), the open step's `finish-step`, `finish`, `[DONE]`."""
        for id, kind in list(self._open_blocks.items()):
            self._close(kind, id)
        if error_text is not None:
            self.error(error_text)
        if self._in_step:
            self.finish_step()
        self.finish(finish_reason, metadata)
        self.done()

    # --- text and reasoning -----------------------------------------------------------
    def text_start(self, id: str) -> None:
        self._open("text", id)

    def text_delta(self, id: str, delta: str) -> None:
        try:
            prefix = self._prefixes["t" + id]
        except KeyError:
            raise ProtocolError(f"text-delta for {id!r} without an open text-start") from None
        self._acc.text_delta(id, delta)
        self._sink(prefix + _dumps(delta) + _DELTA_END)

    def text_end(self, id: str) -> None:
        self._close("text", id)

    def reasoning_start(self, id: str) -> None:
        self._open("reasoning", id)

    def reasoning_delta(self, id: str, delta: str) -> None:
        try:
            prefix = self._prefixes["r" + id]
        except KeyError:
            raise ProtocolError(f"reasoning-delta for {id!r} without reasoning-start") from None
        self._acc.text_delta(id, delta, "reasoning")
        self._sink(prefix + _dumps(delta) + _DELTA_END)

    def reasoning_end(self, id: str) -> None:
        self._close("reasoning", id)

    def _open(self, kind: Literal["text", "reasoning"], id: str) -> None:
        self._acc.text_start(id, kind)
        self._prefixes[kind[0] + id] = _delta_prefix(kind + "-delta", "id", id, "delta")
        self._open_blocks[id] = kind
        self._emit({"type": kind + "-start", "id": id})

    def _close(self, kind: Literal["text", "reasoning"], id: str) -> None:
        self._acc.text_end(id, kind)
        self._prefixes.pop(kind[0] + id, None)
        self._open_blocks.pop(id, None)
        self._emit({"type": kind + "-end", "id": id})

    # --- tools ------------------------------------------------------------------------
    def tool_input_start(self, tool_call_id: str, tool_name: str, dynamic: bool = False) -> None:
        self._acc.tool_input_start(tool_call_id, tool_name, dynamic)
        self._prefixes["i" + tool_call_id] = _delta_prefix(
            "tool-input-delta", "toolCallId", tool_call_id, "inputTextDelta"
        )
        chunk = {"type": "tool-input-start", "toolCallId": tool_call_id, "toolName": tool_name}
        self._emit(_with_dynamic(chunk, dynamic))

    def tool_input_delta(self, tool_call_id: str, delta: str) -> None:
        try:
            prefix = self._prefixes["i" + tool_call_id]
        except KeyError:
            raise ProtocolError(f"tool-input-delta for {tool_call_id!r} without start") from None
        self._acc.tool_input_delta(tool_call_id, delta)
        self._sink(prefix + _dumps(delta) + _DELTA_END)

    def tool_input_available(
        self, tool_call_id: str, tool_name: str, input: Any, dynamic: bool = False
    ) -> None:
        input = _plain(input)
        self._acc.tool_input_available(tool_call_id, tool_name, input, dynamic)
        self._prefixes.pop("i" + tool_call_id, None)
        chunk = {
            "type": "tool-input-available",
            "toolCallId": tool_call_id,
            "toolName": tool_name,
            "input": input,
        }
        self._emit(_with_dynamic(chunk, dynamic))

    def tool_input_error(
        self,
        tool_call_id: str,
        tool_name: str,
        input: Any,
        error_text: str,
        dynamic: bool = False,
    ) -> None:
        input = _plain(input)
        dynamic = self._acc.tool_input_error(tool_call_id, tool_name, input, error_text, dynamic)
        self._prefixes.pop("i" + tool_call_id, None)
        chunk = {
            "type": "tool-input-error",
            "toolCallId": tool_call_id,
            "toolName": tool_name,
            "input": input,
            "errorText": error_text,
        }
        self._emit(_with_dynamic(chunk, dynamic))

    def tool_output_available(
        self, tool_call_id: str, output: Any, *, preliminary: bool = False
    ) -> None:
        output = _plain(output)
        dynamic = self._acc.tool_output_available(tool_call_id, output, preliminary)
        chunk = {"type": "tool-output-available", "toolCallId": tool_call_id, "output": output}
        if preliminary:
            chunk["preliminary"] = True
        self._emit(_with_dynamic(chunk, dynamic))

    def tool_output_error(self, tool_call_id: str, error_text: str) -> None:
        dynamic = self._acc.tool_output_error(tool_call_id, error_text)
        chunk = {"type": "tool-output-error", "toolCallId": tool_call_id, "errorText": error_text}
        self._emit(_with_dynamic(chunk, dynamic))

    def tool_approval_request(self, approval_id: str, tool_call_id: str) -> None:
        self._require_v6("tool-approval-request")
        self._acc.tool_approval_request(approval_id, tool_call_id)
        self._emit(
            {"type": "tool-approval-request", "approvalId": approval_id, "toolCallId": tool_call_id}
        )

    def tool_output_denied(self, tool_call_id: str) -> None:
        self._require_v6("tool-output-denied")
        self._acc.tool_output_denied(tool_call_id)
        self._emit({"type": "tool-output-denied", "toolCallId": tool_call_id})

    def _require_v6(self, kind: str) -> None:
        if self.protocol_version < 6:
            raise UnsupportedChunk(f"{kind} needs ai@6 or later (client speaks v5)")

    # --- data parts -------------------------------------------------------------------
    def data(self, name: str, data: Any, id: str | None = None, transient: bool = False) -> None:
        """A `data-<name>` part; transient ones reach the client's onData only."""
        chunk: dict[str, Any] = {"type": "data-" + name}
        if id is not None:
            chunk["id"] = id
        if transient:
            chunk["transient"] = True
            chunk["data"] = data
        else:
            chunk["data"] = data = _plain(data)
            self._acc.data(name, data, id)
        self._emit(chunk)


def _with_dynamic(chunk: dict[str, Any], dynamic: bool) -> dict[str, Any]:
    if dynamic:
        chunk["dynamic"] = True
    return chunk
