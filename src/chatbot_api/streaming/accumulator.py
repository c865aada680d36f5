"""Builds the assistant message's parts from the chunks written, as `readUIMessageStream` does."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from chatbot_api.streaming.partial_json import MISSING, parse_partial_json

ProtocolVersion = Literal[5, 6, 7]
Part = dict[str, Any]
TextState = Literal["streaming", "done"]
FOLD_EVERY = 64  # text deltas kept as separate strings before they are joined into one


class ProtocolError(ValueError):
    """A chunk the client would reject (unknown id, wrong order, unsupported by its version)."""


class _Text:
    """A text or reasoning part; deltas are kept as pieces and joined only when read."""

    __slots__ = ("folded", "id", "kind", "pieces", "state")

    def __init__(self, kind: Literal["text", "reasoning"], id: str) -> None:
        self.kind = kind
        self.id = id
        self.pieces: list[str] = []
        self.folded = 0  # pieces[:folded] are runs of FOLD_EVERY deltas joined
        self.state: TextState = "streaming"

    def add(self, delta: str) -> None:
        pieces = self.pieces
        pieces.append(delta)
        if len(pieces) - self.folded >= FOLD_EVERY:
            # A small str per token costs ~60 bytes for a few characters: keep runs instead
            # (each delta is copied once more, so still linear).
            pieces[self.folded :] = ["".join(pieces[self.folded :])]
            self.folded += 1

    def to_part(self) -> Part:
        if len(self.pieces) > 1:
            self.pieces = ["".join(self.pieces)]
            self.folded = 1
        text = self.pieces[0] if self.pieces else ""
        if self.kind == "text":
            return {"type": "text", "text": text, "state": self.state}
        return {"type": "reasoning", "id": self.id, "text": text, "state": self.state}


class _PartialCall:
    """A tool call whose input is still streaming."""

    __slots__ = ("dynamic", "part", "pieces", "tool_name")

    def __init__(self, tool_name: str, dynamic: bool, pieces: list[str] | None = None) -> None:
        self.tool_name = tool_name
        self.dynamic = dynamic
        self.pieces = pieces
        self.part: Part | None = None


def merge_metadata(base: Any, overrides: Any) -> Any:
    """Deep-merge message metadata the way the client does (objects merge, the rest replaces)."""
    if not isinstance(base, dict) or not isinstance(overrides, dict):
        return overrides
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_metadata(result[key], value)
        else:
            result[key] = value
    return result


def is_tool_part(part: Mapping[str, Any]) -> bool:
    kind: str = part["type"]
    return kind.startswith("tool-") or kind == "dynamic-tool"


def _is_dynamic(part: Mapping[str, Any]) -> bool:
    kind: str = part["type"]
    return kind == "dynamic-tool"


class MessageAccumulator:
    """The assistant `UIMessage` as the client assembles it, updated chunk by chunk.

    Start from an existing assistant message to continue it (tool-approval continuation).
    """

    def __init__(
        self, message: Mapping[str, Any] | None = None, *, protocol_version: ProtocolVersion = 6
    ) -> None:
        self.protocol_version = protocol_version
        self.finish_reason: str | None = None
        if message is not None and message.get("role") == "assistant":
            self.message_id: str = str(message.get("id") or "")
            self.metadata: Any = copy.deepcopy(message.get("metadata"))
            self._parts: list[Part | _Text] = copy.deepcopy(list(message.get("parts") or []))
        else:
            self._reset("")
        self._active: dict[str, _Text] = {}
        self._partials: dict[str, _PartialCall] = {}
        self._step_start = -1
        for index, part in enumerate(self._parts):
            if isinstance(part, dict) and part.get("type") == "step-start":
                self._step_start = index
        self._resume_partial_calls()

    def _reset(self, message_id: str) -> None:
        self.message_id = message_id
        self.metadata = None
        self._parts = []
        self._active = {}
        self._partials = {}
        self._step_start = -1

    def _resume_partial_calls(self) -> None:
        for part in self._step_parts():
            if isinstance(part, dict) and is_tool_part(part) and part["state"] == "input-streaming":
                dynamic = part["type"] == "dynamic-tool"
                name = part["toolName"] if dynamic else part["type"][5:]
                raw = part.get("rawInput")
                call = _PartialCall(name, dynamic, None if raw is None else [raw])
                call.part = part
                self._partials[part["toolCallId"]] = call

    # --- message ----------------------------------------------------------------------
    def start(self, message_id: str | None, metadata: Any = None) -> None:
        if message_id is not None and message_id != self.message_id:
            self._reset(message_id)
        if message_id is not None:
            self.message_id = message_id
        self.message_metadata(metadata)

    def message_metadata(self, metadata: Any) -> None:
        if metadata is not None:
            self.metadata = (
                metadata if self.metadata is None else merge_metadata(self.metadata, metadata)
            )

    def finish(self, finish_reason: str | None, metadata: Any = None) -> None:
        if finish_reason is not None:
            self.finish_reason = finish_reason
        self.message_metadata(metadata)

    def start_step(self) -> None:
        self._parts.append({"type": "step-start"})
        self._step_start = len(self._parts) - 1

    def finish_step(self) -> None:
        if self.protocol_version < 7:
            self._active.clear()

    # --- text and reasoning (the per-token path) --------------------------------------
    def text_start(self, id: str, kind: Literal["text", "reasoning"] = "text") -> None:
        part = _Text(kind, id)
        self._active[kind[0] + id] = part
        self._parts.append(part)

    def text_delta(self, id: str, delta: str, kind: Literal["text", "reasoning"] = "text") -> None:
        try:
            self._active[kind[0] + id].add(delta)
        except KeyError:
            raise ProtocolError(f"{kind}-delta for {id!r} without an open {kind}-start") from None

    def text_end(self, id: str, kind: Literal["text", "reasoning"] = "text") -> None:
        part = self._active.pop(kind[0] + id, None)
        if part is None:
            raise ProtocolError(f"{kind}-end for {id!r} without an open {kind}-start")
        part.state = "done"

    # --- tools ------------------------------------------------------------------------
    def tool_input_start(self, tool_call_id: str, tool_name: str, dynamic: bool) -> None:
        call = _PartialCall(tool_name, dynamic)
        self._partials[tool_call_id] = call
        call.part = self._update_tool(tool_call_id, tool_name, dynamic, "input-streaming")

    def tool_input_delta(self, tool_call_id: str, delta: str) -> None:
        call = self._partials.get(tool_call_id)
        if call is None:
            raise ProtocolError(f"tool-input-delta for {tool_call_id!r} without tool-input-start")
        if call.pieces is None:
            call.pieces = [delta]
            call.part = self._update_tool(
                tool_call_id, call.tool_name, call.dynamic, "input-streaming"
            )
        else:
            call.pieces.append(delta)

    def tool_input_available(
        self, tool_call_id: str, tool_name: str, input: Any, dynamic: bool
    ) -> None:
        self._partials.pop(tool_call_id, None)
        self._update_tool(tool_call_id, tool_name, dynamic, "input-available", input=input)

    def tool_input_error(
        self, tool_call_id: str, tool_name: str, input: Any, error_text: str, dynamic: bool
    ) -> bool:
        """Returns whether the call is dynamic (the chunk must say so for ai@5)."""
        self._partials.pop(tool_call_id, None)
        existing = next(
            (p for p in self._step_tool_parts() if p["toolCallId"] == tool_call_id), None
        )
        if existing is not None and self.protocol_version >= 6:
            dynamic = existing["type"] == "dynamic-tool"
        if dynamic or self.protocol_version >= 7:
            values = {"input": input, "errorText": error_text}
        else:
            values = {"rawInput": input, "errorText": error_text}
        self._update_tool(tool_call_id, tool_name, dynamic, "output-error", **values)
        return dynamic

    def _settle_partial(self, tool_call_id: str) -> None:
        """A call whose input was still streaming keeps that input, as the client keeps it."""
        call = self._partials.pop(tool_call_id, None)
        if call is None or call.part is None or call.pieces is None:
            return
        raw = "".join(call.pieces)
        value = parse_partial_json(raw, cut_unicode_escapes=self.protocol_version >= 6)
        if value is not MISSING:
            call.part["input"] = value
        call.part["rawInput"] = raw

    def tool_output_available(self, tool_call_id: str, output: Any, preliminary: bool) -> bool:
        """Returns whether the call is dynamic (the chunk must say so for ai@5)."""
        self._settle_partial(tool_call_id)
        part = self._invocation(tool_call_id)
        values: dict[str, Any] = {"input": part.get("input", MISSING), "output": output}
        if preliminary:
            values["preliminary"] = True
        return self._update_existing(part, "output-available", values)

    def tool_output_error(self, tool_call_id: str, error_text: str) -> bool:
        """Returns whether the call is dynamic (the chunk must say so for ai@5)."""
        self._settle_partial(tool_call_id)
        part = self._invocation(tool_call_id)
        values: dict[str, Any] = {"input": part.get("input", MISSING), "errorText": error_text}
        if part["type"] != "dynamic-tool":
            values["rawInput"] = part.get("rawInput", MISSING)
        return self._update_existing(part, "output-error", values)

    def tool_approval_request(self, approval_id: str, tool_call_id: str) -> None:
        part = self._invocation(tool_call_id)
        part["state"] = "approval-requested"
        part["approval"] = {"id": approval_id}

    def tool_output_denied(self, tool_call_id: str) -> None:
        self._invocation(tool_call_id)["state"] = "output-denied"

    # --- data parts -------------------------------------------------------------------
    def data(self, name: str, data: Any, id: str | None) -> None:
        kind = "data-" + name
        if id is not None:
            for part in self._parts:
                if isinstance(part, dict) and part["type"] == kind and part.get("id") == id:
                    part["data"] = data
                    return
            self._parts.append({"type": kind, "id": id, "data": data})
        else:
            self._parts.append({"type": kind, "data": data})

    # --- reading ----------------------------------------------------------------------
    def parts(self) -> list[Part]:
        """The parts as the client shows them now (a copy; open parts stay `streaming`)."""
        streaming = {
            id(call.part): call
            for call in self._partials.values()
            if call.part is not None
            and call.pieces is not None
            and call.part["state"] == "input-streaming"
        }
        result: list[Part] = []
        for part in self._parts:
            if isinstance(part, _Text):
                result.append(part.to_part())
                continue
            copied = copy.deepcopy(part)
            call = streaming.get(id(part))
            if call is not None and call.pieces is not None:
                raw = "".join(call.pieces)
                value = parse_partial_json(raw, cut_unicode_escapes=self.protocol_version >= 6)
                if value is not MISSING:
                    copied["input"] = value
                copied["rawInput"] = raw
            result.append(copied)
        return result

    # --- helpers ----------------------------------------------------------------------
    def _step_parts(self) -> list[Part | _Text]:
        return self._parts[self._step_start + 1 :]

    def _step_tool_parts(self) -> list[Part]:
        return [p for p in self._step_parts() if isinstance(p, dict) and is_tool_part(p)]

    def _invocation(self, tool_call_id: str) -> Part:
        for part in self._step_tool_parts():
            if part["toolCallId"] == tool_call_id:
                return part
        for candidate in reversed(self._parts):
            if (
                isinstance(candidate, dict)
                and is_tool_part(candidate)
                and candidate["toolCallId"] == tool_call_id
            ):
                return candidate
        raise ProtocolError(f"no tool call {tool_call_id!r} in the message")

    def _update_tool(
        self, tool_call_id: str, tool_name: str, dynamic: bool, state: str, **values: Any
    ) -> Part:
        for part in self._step_tool_parts():
            if part["toolCallId"] == tool_call_id and (part["type"] == "dynamic-tool") == dynamic:
                if dynamic:
                    part["toolName"] = tool_name
                else:
                    part["type"] = "tool-" + tool_name
                self._update_existing(part, state, values)
                return part
        part = {"type": "dynamic-tool", "toolName": tool_name} if dynamic else {}
        part.setdefault("type", "tool-" + tool_name)
        part["toolCallId"] = tool_call_id
        part["state"] = state
        part.update((k, v) for k, v in values.items() if v is not MISSING)
        self._parts.append(part)
        return part

    @staticmethod
    def _update_existing(part: Part, state: str, values: Mapping[str, Any]) -> bool:
        part["state"] = state
        for key in ("input", "output", "errorText", "rawInput", "preliminary", "inputEncoding"):
            value = values.get(key, MISSING)
            if value is MISSING:
                part.pop(key, None)
            else:
                part[key] = value
        return _is_dynamic(part)
