"""UI messages as the model sees them: steps, tool results, denials, pending approvals, images."""

from __future__ import annotations

from chatbot_api.ai.base import FilePart, ImagePart, TextPart, ToolCallPart, ToolResultPart
from chatbot_api.ai.convert import DENIED_OUTPUT, to_model_messages


def _tool(state: str, **extra: object) -> dict[str, object]:
    return {
        "type": "tool-getWeather",
        "toolCallId": "c1",
        "state": state,
        "input": {"city": "Paris"},
        **extra,
    }


def test_convert_splits_assistant_steps_into_calls_and_results() -> None:
    messages = to_model_messages(
        [
            {"role": "user", "parts": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "parts": [
                    {"type": "step-start"},
                    _tool("output-available", output={"t": 17}),
                    {"type": "data-chat-title", "data": "x"},
                    {"type": "step-start"},
                    {"type": "text", "text": "It is 17."},
                ],
            },
        ]
    )
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1].content == [ToolCallPart("c1", "getWeather", {"city": "Paris"})]
    assert messages[2].content == [ToolResultPart("c1", "getWeather", {"t": 17})]
    assert messages[3].content == [TextPart("It is 17.")]


def test_convert_turns_denials_into_error_results_and_drops_pending_calls() -> None:
    denied = _tool("output-denied", approval={"id": "a", "approved": False, "reason": "No"})
    pending = {**_tool("approval-requested", approval={"id": "b"}), "toolCallId": "c2"}
    messages = to_model_messages([{"role": "assistant", "parts": [denied, pending]}])
    assert messages[0].content == [ToolCallPart("c1", "getWeather", {"city": "Paris"})]
    result = messages[1].content[0]
    assert isinstance(result, ToolResultPart)
    assert result.is_error
    assert result.output == f"{DENIED_OUTPUT} Reason: No"


def test_convert_keeps_images_and_files_and_drops_reasoning_and_system() -> None:
    messages = to_model_messages(
        [
            {"role": "system", "parts": [{"type": "text", "text": "ignored"}]},
            {
                "role": "user",
                "parts": [
                    {"type": "file", "mediaType": "image/png", "url": "https://x.io/a.png"},
                    {
                        "type": "file",
                        "mediaType": "application/pdf",
                        "url": "https://x.io/a.pdf",
                        "filename": "a.pdf",
                    },
                    {"type": "file", "mediaType": "Text/Plain", "url": "data:,hi", "name": "n.txt"},
                ],
            },
            {
                "role": "assistant",
                "parts": [{"type": "reasoning", "text": "hmm"}, {"type": "text", "text": "ok"}],
            },
        ]
    )
    assert messages[0].content == [
        ImagePart("https://x.io/a.png", "image/png"),
        FilePart("application/pdf", "a.pdf", url="https://x.io/a.pdf"),
        FilePart("text/plain", "n.txt", url="data:,hi"),  # ai-chatbot names it `name`
    ]
    assert messages[1].content == [TextPart("ok")]


def test_convert_understands_dynamic_tool_parts() -> None:
    part: dict[str, object] = {"type": "dynamic-tool", "toolName": "search", "toolCallId": "d1"}
    part.update(state="output-error", input={"q": "x"}, errorText="boom")
    messages = to_model_messages([{"role": "assistant", "parts": [part]}])
    assert messages[1].content == [ToolResultPart("d1", "search", "boom", is_error=True)]
