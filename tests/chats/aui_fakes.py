"""A scripted OpenAI-compatible upstream for assistant-ui turns: it calls the client's
frontend tool `get_location` when offered, and answers its result with text."""

from __future__ import annotations

from typing import Any

from chatbot_api.ai import prompts
from tests.fakes.http import RecordedRequest, Reply
from tests.fakes.openai_server import (
    chunk,
    stream_reply,
    text_stream,
    tool_call_chunks,
    usage_chunk,
)

FRONTEND_TOOL = "get_location"
LOCATION_SCHEMA = {
    "type": "object",
    "properties": {"precision": {"type": "string", "enum": ["city", "exact"]}},
    "required": ["precision"],
    "additionalProperties": False,
}
ANSWER = "You are in Paris."


def is_title(request: RecordedRequest) -> bool:
    messages = request.json().get("messages") or []
    return bool(messages) and messages[0].get("content") == prompts.TITLE_PROMPT


def chat_requests(requests: list[RecordedRequest]) -> list[dict[str, Any]]:
    return [r.json() for r in requests if not is_title(r)]


def scripted(request: RecordedRequest) -> Reply:
    if is_title(request):
        return stream_reply(text_stream(["Where ", "am ", "I"]))
    body = request.json()
    last = body["messages"][-1]
    names = {tool["function"]["name"] for tool in body.get("tools") or []}
    if last["role"] == "user" and FRONTEND_TOOL in names:
        call = tool_call_chunks(0, "call_loc_1", FRONTEND_TOOL, ['{"precision"', ': "city"}'])
        return stream_reply(
            [
                chunk({"role": "assistant", "content": "Let me check. "}),
                *call,
                chunk(finish_reason="tool_calls"),
                usage_chunk(30, 7),
            ]
        )
    if last["role"] == "tool":
        return stream_reply(text_stream(["You ", "are ", "in ", "Paris."], usage=(40, 5)))
    return stream_reply(text_stream(["Hello ", "from ", "upstream."], usage=(12, 3)))
