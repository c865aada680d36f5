"""The message the writer accumulates equals what each real `ai` client assembles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot_api.streaming.writer import UIMessageWriter
from tests.streaming.conftest import Recorder, assemble

Script = Callable[[UIMessageWriter], None]
SCENARIOS: dict[str, tuple[int, Script, dict[str, Any] | None]] = {}


def scenario(
    min_version: int = 5, message: dict[str, Any] | None = None
) -> Callable[[Script], Script]:
    def register(script: Script) -> Script:
        SCENARIOS[script.__name__] = (min_version, script, message)
        return script

    return register


def _text(w: UIMessageWriter, id: str, *deltas: str) -> None:
    w.text_start(id)
    for delta in deltas:
        w.text_delta(id, delta)
    w.text_end(id)


@scenario()
def plain_text(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    _text(w, "t1", "Hello", ", ", "world")
    w.finish_step()
    w.finish("stop")
    w.done()


@scenario()
def reasoning_then_text(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.reasoning_start("r1")
    w.reasoning_delta("r1", "Thinking ")
    w.reasoning_delta("r1", "hard")
    w.reasoning_end("r1")
    _text(w, "t1", "Answer")
    w.finish_step()
    w.finish("stop")
    w.done()


@scenario()
def tool_call_streamed_input_and_output(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.tool_input_start("call-1", "getWeather")
    for piece in ('{"ci', 'ty":"Par', 'is"}'):
        w.tool_input_delta("call-1", piece)
    w.tool_input_available("call-1", "getWeather", {"city": "Paris"})
    w.tool_output_available("call-1", {"temperature": 21.5, "unit": "C", "hourly": [1, 2]})
    w.finish_step()
    w.start_step()
    _text(w, "t2", "It is warm.")
    w.finish_step()
    w.finish("stop")
    w.done()


@scenario()
def tool_errors(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.tool_input_start("call-1", "getWeather")
    w.tool_input_delta("call-1", '{"city":')
    w.tool_input_error("call-1", "getWeather", '{"city":', "Invalid JSON")
    w.tool_input_available("call-2", "createDocument", {"title": "T", "kind": "text"})
    w.tool_output_error("call-2", "Storage is down")
    w.tool_input_start("call-3", "mcpSearch", dynamic=True)
    w.tool_input_available("call-3", "mcpSearch", {"q": "x"}, dynamic=True)
    w.tool_output_error("call-3", "timeout")
    w.tool_input_start("call-4", "mcpFetch", dynamic=True)
    w.tool_input_error("call-4", "mcpFetch", "not json", "bad input", dynamic=True)
    w.finish_step()
    w.finish("tool-calls")
    w.done()


@scenario()
def dynamic_tool_output(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.tool_input_start("call-1", "mcpSearch", dynamic=True)
    w.tool_input_delta("call-1", '{"q":"a"}')
    w.tool_input_available("call-1", "mcpSearch", {"q": "a"}, dynamic=True)
    w.tool_output_available("call-1", ["r1", None], preliminary=True)
    w.tool_output_available("call-1", ["r1", "r2"])
    w.finish_step()
    w.finish()
    w.done()


@scenario()
def multi_step_with_data_parts(w: UIMessageWriter) -> None:
    w.start("msg-1", {"createdAt": "2025-01-01T00:00:00.000Z"})
    w.start_step()
    w.tool_input_available("call-1", "createDocument", {"title": "Essay", "kind": "text"})
    w.data("kind", "text", transient=True)
    w.data("id", "doc-1", transient=True)
    w.data("textDelta", "Once", transient=True)
    w.data("finish", None, transient=True)
    w.tool_output_available("call-1", {"id": "doc-1", "title": "Essay", "kind": "text"})
    w.finish_step()
    w.start_step()
    _text(w, "t1", "Done.")
    w.data("status", {"phase": 1}, id="s1")
    w.data("note", None)
    w.data("status", {"phase": 2}, id="s1")
    w.data("status", {"phase": 1}, id="s2")
    w.finish_step()
    w.finish("stop")
    w.data("chat-title", "A title")
    w.done()


@scenario()
def error_ending_mid_text(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.text_start("t1")
    w.text_delta("t1", "Partial ans")
    w.end("error", error_text="Upstream model failed")


@scenario()
def error_ending_mid_reasoning_and_tool_input(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.reasoning_start("r1")
    w.reasoning_delta("r1", "Let me")
    w.tool_input_start("call-1", "getWeather")
    w.tool_input_delta("call-1", '{"city":"San Fr')
    w.tool_output_error("call-1", "Stopped before the tool finished.")
    w.end("error", error_text="The server restarted, so the reply stopped here.")


@scenario()
def stop_ending_mid_text_of_a_second_step(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    _text(w, "t1", "First")
    w.finish_step()
    w.start_step()
    w.text_start("t2")
    w.text_delta("t2", "Sec")
    w.end("stop", metadata={"usage": {"inputTokens": 1}})


@scenario()
def ending_between_steps(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    _text(w, "t1", "Done")
    w.finish_step()
    w.end("error", error_text="The model stopped responding. Please try again.")


@scenario()
def metadata_merges(w: UIMessageWriter) -> None:
    w.start("msg-1", {"createdAt": "x", "usage": {"input": 1}})
    w.message_metadata({"usage": {"output": 2}, "model": "m"})
    w.start_step()
    _text(w, "t1", "ok")
    w.finish_step()
    w.finish("length", {"usage": {"input": 3}, "tags": ["a"]})
    w.done()


@scenario()
def unicode_and_control_characters(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    _text(w, "t1", "é€😀", "\u0000\u001f\n\r\t", '"quotes" \\ back', "\u2028\u2029", "</script>")
    w.finish_step()
    w.finish("stop")
    w.done()


@scenario(min_version=6)
def approval_request(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.tool_input_start("call-1", "getWeather")
    w.tool_input_delta("call-1", '{"city":"Paris"}')
    w.tool_input_available("call-1", "getWeather", {"city": "Paris"})
    w.tool_approval_request("appr-1", "call-1")
    w.finish_step()
    w.finish("tool-calls")
    w.done()


EXISTING = {
    "id": "msg-1",
    "role": "assistant",
    "metadata": {"createdAt": "2025-01-01T00:00:00.000Z"},
    "parts": [
        {"type": "step-start"},
        {"type": "text", "text": "Let me check.", "state": "done"},
        {
            "type": "tool-getWeather",
            "toolCallId": "call-1",
            "state": "approval-responded",
            "input": {"city": "Paris"},
            "approval": {"id": "appr-1", "approved": True},
        },
        {
            "type": "tool-getWeather",
            "toolCallId": "call-2",
            "state": "approval-responded",
            "input": {"city": "Oslo"},
            "approval": {"id": "appr-2", "approved": False, "reason": "No"},
        },
    ],
}


@scenario(min_version=6, message=EXISTING)
def continuation_approved_and_denied(w: UIMessageWriter) -> None:
    w.start("msg-1")
    w.start_step()
    w.tool_output_available("call-1", {"temperature": 20})
    w.tool_output_denied("call-2")
    w.finish_step()
    w.start_step()
    _text(w, "t1", "Paris is mild.")
    w.finish_step()
    w.finish("stop")
    w.done()


@scenario(message=EXISTING)
def start_with_other_id_replaces_message(w: UIMessageWriter) -> None:
    w.start("msg-2")
    w.start_step()
    _text(w, "t1", "fresh")
    w.finish_step()
    w.finish("stop")
    w.done()


CASES = [
    pytest.param(name, version, id=f"{name}-ai{version}")
    for name, (min_version, _, _) in SCENARIOS.items()
    for version in (5, 6, 7)
    if version >= min_version
]


@pytest.mark.parametrize(("name", "version"), CASES)
def test_accumulated_message_matches_client_when_streamed(
    name: str, version: int, clients_dir: Path, tmp_path: Path
) -> None:
    _, script, message = SCENARIOS[name]
    recorder = Recorder(version, message)  # type: ignore[arg-type]
    script(recorder.writer)
    result = assemble(clients_dir, tmp_path, version, recorder.body, message)
    expected_errors = [c["errorText"] for c in recorder.chunks() if c["type"] == "error"]
    assert result["errors"] == expected_errors
    assert result["chunks"] == [c["type"] for c in recorder.chunks()]
    client = result["message"]
    assert client["parts"] == recorder.writer.message_parts()
    assert client["id"] == recorder.writer.message_id
    assert client.get("metadata") == recorder.writer.metadata


PARTIAL_INPUT = (
    '{"city": "San \\"Fran\\" \\\\ cisco\\u00e9", "n": -12.5e+3, "ok": true, "none": null,'
    ' "list": [1, {"a": [false, 0.5]}, "x"], "empty": {}, "arr": [], "z": fals'
)


@pytest.mark.parametrize("version", [5, 6, 7])
def test_streaming_tool_input_matches_client_when_cut_anywhere(
    version: int, clients_dir: Path, tmp_path: Path
) -> None:
    recorder = Recorder(version)  # type: ignore[arg-type]
    w = recorder.writer
    w.start("msg-1")
    w.start_step()
    for end in range(1, len(PARTIAL_INPUT) + 1):
        w.tool_input_start(f"call-{end}", "getWeather")
        w.tool_input_delta(f"call-{end}", PARTIAL_INPUT[:end])
    result = assemble(clients_dir, tmp_path, version, recorder.body)
    assert result["errors"] == []
    client_parts = result["message"]["parts"]
    assert len(client_parts) == len(PARTIAL_INPUT) + 1
    ours = w.message_parts()
    mismatches = [(c, o) for c, o in zip(client_parts, ours, strict=True) if c != o]
    assert mismatches == []
