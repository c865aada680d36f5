"""A stream read back from its bytes: the replayed message equals the producer's, and the
ending of a stream cut short is one every real `ai` client accepts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chatbot_api.streaming.replay import cut_short_ending, replay
from tests.streaming.conftest import Recorder, assemble

CUT = "The reply was interrupted."


def cut_mid_tool_input(recorder: Recorder) -> None:
    w = recorder.writer
    w.start("msg-1", {"createdAt": "2025-01-01T00:00:00.000Z"})
    w.start_step()
    w.reasoning_start("r1")
    w.reasoning_delta("r1", "Hmm")
    w.reasoning_end("r1")
    w.text_start("t1")
    w.text_delta("t1", "Let me look.")
    w.text_end("t1")
    w.tool_input_start("call-1", "getWeather")
    w.tool_input_delta("call-1", '{"city": "Par')
    w.data("chat-title", "Weather", transient=True)


def cut_mid_text_of_a_second_step(recorder: Recorder) -> None:
    w = recorder.writer
    w.start("msg-1")
    w.start_step()
    w.tool_input_start("call-1", "getWeather")
    w.tool_input_available("call-1", "getWeather", {"city": "Paris"})
    w.tool_output_available("call-1", {"temperature": 20})
    w.finish_step()
    w.start_step()
    w.text_start("t1")
    w.text_delta("t1", "It is 20 degr")


@pytest.mark.parametrize("version", [5, 6, 7])
@pytest.mark.parametrize("script", [cut_mid_tool_input, cut_mid_text_of_a_second_step])
def test_a_stream_cut_short_replays_and_ends_as_every_client_assembles_it(
    script: Callable[[Recorder], None], version: int, clients_dir: Path, tmp_path: Path
) -> None:
    recorder = Recorder()
    script(recorder)
    replayed = replay(recorder.body)
    assert replayed.message_parts() == recorder.writer.message_parts()
    ending = cut_short_ending(replayed, CUT)
    result = assemble(clients_dir, tmp_path, version, recorder.body + ending)
    assert result["errors"] == [CUT]
    assert result["chunks"][-3:] == ["error", "finish-step", "finish"]
    assert result["message"]["parts"] == replayed.message_parts()
    assert ending.endswith(b"data: [DONE]\n\n")


def test_replay_skips_what_the_message_cannot_take() -> None:
    """Chunks the writer does not produce, or that name a part it never opened, are skipped
    (as the client skips them), not raised."""
    events = (
        b'data: {"type":"start","messageId":"m"}\n\n'
        b'data: {"type":"source-url","sourceId":"s","url":"https://x"}\n\n'
        b'data: {"type":"text-delta","id":"nope","delta":"x"}\n\n'
        b"data: [DONE]\n\n"
    )
    assert replay(events).message_id == "m"
    assert replay(events).message_parts() == []
