"""The offline demo model: deterministic replies, reasoning, every tool trigger, artifacts."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from chatbot_api.ai import prompts
from chatbot_api.ai.base import (
    ImagePart,
    ModelMessage,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    ToolSpec,
)
from chatbot_api.ai.demo import DEMO_NOTICE, DemoProvider
from tests.ai.events import collect, finish_of, reasoning_of, text_of, tool_calls, user

TOOLS = [
    ToolSpec(name, f"The {name} tool", {"type": "object"})
    for name in ("getWeather", "createDocument", "updateDocument", "requestSuggestions")
]
DOC_ID = "0b0e6a52-7c55-4b5e-9d1b-6f1c2a3d4e5f"


def demo() -> DemoProvider:
    return DemoProvider(word_delay=0)


def chat(text: str, *, model: str = "chat-model", tools: bool = True) -> ModelRequest:
    return ModelRequest(model=model, messages=[user(text)], tools=TOOLS if tools else [])


def with_document(*later: ModelMessage) -> list[ModelMessage]:
    """A conversation in which a document was created earlier."""
    return [
        user("Write an essay about the ocean"),
        ModelMessage(
            "assistant",
            [ToolCallPart("call_1", "createDocument", {"title": "Ocean", "kind": "text"})],
        ),
        ModelMessage(
            "tool",
            [
                ToolResultPart(
                    "call_1",
                    "createDocument",
                    {"id": DOC_ID, "title": "Ocean", "kind": "text", "content": "created"},
                )
            ],
        ),
        ModelMessage("assistant", [TextPart("I created the document.")]),
        *later,
    ]


async def test_reply_says_it_is_the_demo_and_restates_the_prompt() -> None:
    events = await collect(demo(), chat("How do magnets work?"))
    text = text_of(events)
    assert DEMO_NOTICE in text
    assert "“How do magnets work?” (4 words)" in text
    assert finish_of(events).reason == "stop"
    finish = finish_of(events)
    assert (finish.usage.input_tokens, finish.usage.output_tokens) == (0, 0)
    assert finish.model == "demo"


async def test_reply_is_identical_when_repeated() -> None:
    first = text_of(await collect(demo(), chat("Tell me about Rome")))
    second = text_of(await collect(demo(), chat("Tell me about Rome")))
    assert first == second


async def test_reply_streams_word_by_word_at_the_configured_pace() -> None:
    provider = DemoProvider(word_delay=0.01)
    started = time.perf_counter()
    events = await collect(provider, chat("hi"))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 20
    assert all(len(d.text.split()) == 1 for d in deltas)
    assert time.perf_counter() - started >= 0.01 * (len(deltas) - 1)


async def test_reasoning_model_streams_reasoning_before_text() -> None:
    events = await collect(demo(), chat("Why is the sky blue?", model="chat-model-reasoning"))
    kinds = [type(e) for e in events if isinstance(e, TextDelta | ReasoningDelta)]
    first_text = kinds.index(TextDelta)
    assert set(kinds[:first_text]) == {ReasoningDelta}
    assert ReasoningDelta not in kinds[first_text:]
    assert reasoning_of(events).startswith("Let me think through this step by step.")
    assert DEMO_NOTICE in text_of(events)


async def test_thinking_id_counts_as_reasoning() -> None:
    request = chat("Explain recursion", model="anthropic/claude-3.7-sonnet-thinking", tools=False)
    assert reasoning_of(await collect(demo(), request))


@pytest.mark.parametrize(
    ("prompt", "city"),
    [
        ("What's the weather in Paris?", "Paris"),
        ("temperature for new york today", "New York"),
        ("what's the weather in sf", "San Francisco"),
        ("How is the weather?", "San Francisco"),
    ],
)
async def test_weather_question_calls_get_weather(prompt: str, city: str) -> None:
    events = await collect(demo(), chat(prompt))
    [call] = tool_calls(events)
    assert (call.tool_name, call.input) == ("getWeather", {"city": city})
    assert finish_of(events).reason == "tool-calls"
    assert text_of(events) == ""


async def test_tool_call_streams_start_then_argument_fragments() -> None:
    events = await collect(demo(), chat("weather in Oslo"))
    start = next(e for e in events if isinstance(e, ToolCallStart))
    fragments = "".join(e.args_delta for e in events if isinstance(e, ToolCallDelta))
    [end] = tool_calls(events)
    assert start.tool_call_id == end.tool_call_id
    assert orjson.loads(fragments) == end.input


@pytest.mark.parametrize(
    ("prompt", "kind", "title"),
    [
        ("Write an essay about silicon valley", "text", "Silicon Valley"),
        ("Draft an email to my landlord about the heating", "text", "Heating"),
        ("write a python function to reverse a string", "code", None),
        ("Create a script that prints primes", "code", None),
        ("create a spreadsheet of monthly expenses", "sheet", "Monthly Expenses"),
        ("make a csv table about planets", "sheet", "Planets"),
    ],
)
async def test_write_request_calls_create_document_of_the_right_kind(
    prompt: str, kind: str, title: str | None
) -> None:
    [call] = tool_calls(await collect(demo(), chat(prompt)))
    assert call.tool_name == "createDocument"
    assert call.input["kind"] == kind
    if title is not None:
        assert call.input["title"].startswith(title)


async def test_edit_request_updates_the_latest_document() -> None:
    request = ModelRequest("chat-model", with_document(user("Make it shorter")), tools=TOOLS)
    [call] = tool_calls(await collect(demo(), request))
    assert call.tool_name == "updateDocument"
    assert call.input == {"id": DOC_ID, "description": "Make it shorter"}


async def test_write_request_with_change_in_topic_still_creates() -> None:
    request = ModelRequest(
        "chat-model", with_document(user("Write an essay about climate change")), tools=TOOLS
    )
    [call] = tool_calls(await collect(demo(), request))
    assert call.tool_name == "createDocument"


async def test_suggest_improvements_requests_suggestions_for_the_document() -> None:
    request = ModelRequest(
        "chat-model", with_document(user("Can you suggest improvements?")), tools=TOOLS
    )
    [call] = tool_calls(await collect(demo(), request))
    assert (call.tool_name, call.input) == ("requestSuggestions", {"documentId": DOC_ID})


async def test_edit_without_a_document_answers_in_text() -> None:
    events = await collect(demo(), chat("Please update it"))
    assert tool_calls(events) == []
    assert "Create a document first" in text_of(events)


async def test_tools_are_not_called_when_not_offered() -> None:
    events = await collect(demo(), chat("What's the weather in Paris?", tools=False))
    assert tool_calls(events) == []
    assert "Tools are not available" in text_of(events)


def tool_turn(name: str, output: Any, *, is_error: bool = False) -> ModelRequest:
    messages = [
        user("question"),
        ModelMessage("assistant", [ToolCallPart("call_1", name, {})]),
        ModelMessage("tool", [ToolResultPart("call_1", name, output, is_error)]),
    ]
    return ModelRequest("chat-model", messages, tools=TOOLS)


@pytest.mark.parametrize(
    ("name", "output", "expected"),
    [
        (
            "getWeather",
            {"cityName": "Paris", "current": {"temperature_2m": 17.5},
             "current_units": {"temperature_2m": "°C"}},
            "It is currently 17.5°C in Paris.",
        ),
        ("createDocument", {"id": DOC_ID, "title": "Ocean", "kind": "text"}, "I created the text"),
        ("updateDocument", {"id": DOC_ID, "title": "Ocean", "kind": "text"}, "I updated “Ocean”"),
        ("requestSuggestions", {"id": DOC_ID, "title": "Ocean"}, "I added suggestions to “Ocean”"),
        ("getWeather", {"error": "Could not find coordinates"}, "The getWeather tool failed"),
    ],
)  # fmt: skip
async def test_tool_result_is_answered_in_text(name: str, output: Any, expected: str) -> None:
    events = await collect(demo(), tool_turn(name, output))
    assert expected in text_of(events)
    assert DEMO_NOTICE in text_of(events)
    assert tool_calls(events) == []
    assert finish_of(events).reason == "stop"


async def test_image_attachment_is_mentioned() -> None:
    message = ModelMessage(
        "user", [TextPart("Who painted this?"), ImagePart("https://x/y.png", "image/png")]
    )
    events = await collect(demo(), ModelRequest("chat-model", [message]))
    assert "You attached an image (image/png)" in text_of(events)


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("hi", "New Conversation"),
        ("what's the weather in nyc", "Weather in NYC"),
        ("Write an essay about silicon valley", "Essay About Silicon Valley"),
        ("python", "About Python"),
    ],
)
async def test_title_model_writes_a_short_title(message: str, title: str) -> None:
    request = ModelRequest("title-model", [user(message)], system=prompts.TITLE_PROMPT)
    text = text_of(await collect(DemoProvider(word_delay=5), request))  # titles are not paced
    assert text == title
    assert 1 <= len(text.split()) <= 5


def artifact(system: str, prompt: str) -> ModelRequest:
    return ModelRequest("artifact-model", [user(prompt)], system=system)


async def test_artifact_model_writes_markdown_for_text() -> None:
    text = text_of(await collect(demo(), artifact(prompts.TEXT_DOCUMENT_PROMPT, "Rivers")))
    assert text.startswith("# Rivers\n")
    assert "offline demo model" in text


async def test_artifact_model_writes_runnable_python_for_code() -> None:
    code = text_of(await collect(demo(), artifact(prompts.CODE_PROMPT, "Count 'words'")))
    compiled = compile(code, "<demo>", "exec")
    assert compiled is not None
    assert "print(" in code


async def test_artifact_model_writes_csv_for_sheets() -> None:
    import csv
    import io

    sheet = text_of(await collect(demo(), artifact(prompts.SHEET_PROMPT, "Budget")))
    rows = list(csv.reader(io.StringIO(sheet)))
    assert rows[0] == ["Item", "Category", "Quantity", "Unit Price", "Total"]
    assert len({len(row) for row in rows}) == 1


@pytest.mark.parametrize("kind", ["text", "code", "sheet"])
async def test_artifact_model_edits_the_current_content(kind: str) -> None:
    current = {"text": "# T\n\nOne.\n", "code": "print(1)\n", "sheet": "a,b\n1,2\n"}[kind]
    system = prompts.update_document_prompt(current, kind)
    edited = text_of(await collect(demo(), artifact(system, "add a note")))
    assert edited != current
    assert "add a note" in edited


async def test_artifact_model_answers_suggestions_as_json_lines() -> None:
    document = (
        "Rivers are really important for cities. They carry water to farms and towns. Ok. "
        "People have always settled near rivers."
    )
    text = text_of(await collect(demo(), artifact(prompts.SUGGESTIONS_PROMPT, document)))
    lines = [orjson.loads(line) for line in text.splitlines()]
    assert 1 <= len(lines) <= prompts.MAX_SUGGESTIONS
    for item in lines:
        assert set(item) == {"originalSentence", "suggestedSentence", "description"}
        assert item["originalSentence"] in document
        assert item["suggestedSentence"] != item["originalSentence"]
    assert lines[0]["suggestedSentence"] == "Rivers are important for cities."
