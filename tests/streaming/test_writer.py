"""Chunk encoding: SSE framing, optional keys absent, required keys present, misuse refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot_api.streaming.accumulator import ProtocolError
from chatbot_api.streaming.writer import UnsupportedChunk
from tests.streaming.conftest import Recorder, assemble


def test_events_are_framed_as_single_sse_data_lines() -> None:
    recorder = Recorder()
    w = recorder.writer
    w.start("m")
    w.start_step()
    w.text_start("t")
    w.text_delta("t", "line one\nline two\r\n\u2028end")
    w.text_end("t")
    w.finish_step()
    w.finish("stop")
    w.done()
    for event in recorder.events:
        assert event.startswith(b"data: ")
        assert event.endswith(b"\n\n")
        assert b"\n" not in event[:-2]
        assert b"\r" not in event
    assert recorder.events[-1] == b"data: [DONE]\n\n"
    assert recorder.chunks()[3] == {
        "type": "text-delta",
        "id": "t",
        "delta": "line one\nline two\r\n\u2028end",
    }


def test_optional_keys_are_absent_when_not_given() -> None:
    recorder = Recorder()
    w = recorder.writer
    w.start()
    w.start_step()
    w.tool_input_start("c1", "getWeather")
    w.tool_input_available("c1", "getWeather", {"city": "Paris"})
    w.tool_output_available("c1", {"t": 1})
    w.data("chat-title", "Title")
    w.finish_step()
    w.finish()
    assert recorder.chunks() == [
        {"type": "start"},
        {"type": "start-step"},
        {"type": "tool-input-start", "toolCallId": "c1", "toolName": "getWeather"},
        {
            "type": "tool-input-available",
            "toolCallId": "c1",
            "toolName": "getWeather",
            "input": {"city": "Paris"},
        },
        {"type": "tool-output-available", "toolCallId": "c1", "output": {"t": 1}},
        {"type": "data-chat-title", "data": "Title"},
        {"type": "finish-step"},
        {"type": "finish"},
    ]


def test_unknown_typed_keys_are_present_when_null() -> None:
    recorder = Recorder()
    w = recorder.writer
    w.start("m")
    w.tool_input_available("c1", "t", None)
    w.tool_output_available("c1", None)
    w.tool_input_error("c2", "t", None, "bad")
    w.data("clear", None, transient=True)
    w.message_metadata(None)
    chunks = recorder.chunks()
    assert chunks[1] == {
        "type": "tool-input-available",
        "toolCallId": "c1",
        "toolName": "t",
        "input": None,
    }
    assert chunks[2] == {"type": "tool-output-available", "toolCallId": "c1", "output": None}
    assert chunks[3]["input"] is None
    assert chunks[4] == {"type": "data-clear", "transient": True, "data": None}
    assert chunks[5] == {"type": "message-metadata", "messageMetadata": None}


def test_dynamic_tool_chunks_carry_dynamic_flag_for_ai5() -> None:
    recorder = Recorder(5)
    w = recorder.writer
    w.start("m")
    w.start_step()
    w.tool_input_available("c1", "mcp", {}, dynamic=True)
    w.tool_output_available("c1", "ok")
    assert recorder.chunks()[-1] == {
        "type": "tool-output-available",
        "toolCallId": "c1",
        "output": "ok",
        "dynamic": True,
    }


def test_approval_chunks_raise_when_client_speaks_v5() -> None:
    w = Recorder(5).writer
    w.start("m")
    w.start_step()
    w.tool_input_available("c1", "getWeather", {})
    with pytest.raises(UnsupportedChunk):
        w.tool_approval_request("a1", "c1")
    with pytest.raises(UnsupportedChunk):
        w.tool_output_denied("c1")


def test_misordered_chunks_raise_before_anything_is_sent() -> None:
    recorder = Recorder()
    w = recorder.writer
    w.start("m")
    sent = len(recorder.events)
    with pytest.raises(ProtocolError):
        w.text_delta("nope", "x")
    with pytest.raises(ProtocolError):
        w.reasoning_end("nope")
    with pytest.raises(ProtocolError):
        w.tool_input_delta("nope", "{")
    with pytest.raises(ProtocolError):
        w.tool_output_available("nope", 1)
    with pytest.raises(ProtocolError):
        w.finish("unknown")  # type: ignore[arg-type]
    assert len(recorder.events) == sent


def test_text_delta_after_finish_step_raises_for_v6() -> None:
    w = Recorder(6).writer
    w.start("m")
    w.start_step()
    w.text_start("t")
    w.finish_step()
    with pytest.raises(ProtocolError):
        w.text_delta("t", "late")


def test_parts_are_readable_mid_stream_without_changing_state() -> None:
    w = Recorder().writer
    w.start("m")
    w.start_step()
    w.text_start("t")
    w.text_delta("t", "Hel")
    assert w.message_parts() == [
        {"type": "step-start"},
        {"type": "text", "text": "Hel", "state": "streaming"},
    ]
    w.text_delta("t", "lo")
    w.text_end("t")
    assert w.message_parts()[1] == {"type": "text", "text": "Hello", "state": "done"}


def test_non_json_values_are_accumulated_as_sent(clients_dir: Path, tmp_path: Path) -> None:
    from dataclasses import dataclass
    from datetime import UTC, datetime

    @dataclass
    class Weather:
        at: datetime
        temperature: float

    recorder = Recorder(6)
    w = recorder.writer
    w.start("m")
    w.start_step()
    w.tool_input_available("c1", "getWeather", {"city": "Paris"})
    w.tool_output_available("c1", Weather(datetime(2025, 1, 1, tzinfo=UTC), 20.5))
    w.finish_step()
    w.finish()
    parts = w.message_parts()
    assert parts[1]["output"] == {"at": "2025-01-01T00:00:00+00:00", "temperature": 20.5}
    json.dumps(parts)
    result = assemble(clients_dir, tmp_path, 6, recorder.body)
    assert result["message"]["parts"] == parts
