"""The offline demo model: a deterministic Provider that streams text, reasoning and tool calls."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from chatbot_api.ai import demo_content as content
from chatbot_api.ai import prompts
from chatbot_api.ai.base import (
    FilePart,
    ImagePart,
    InputTypes,
    ModelEvent,
    ModelMessage,
    ModelRequest,
    ReasoningDelta,
    StepFinish,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    Usage,
)

CHAT_MODEL_ID = "chat-model"
REASONING_MODEL_ID = "chat-model-reasoning"
TITLE_MODEL_ID = "title-model"
ARTIFACT_MODEL_ID = "artifact-model"
DEMO_MODEL = "demo"  # the model it says answered (it counts no tokens: usage is zero)

DEMO_NOTICE = (
    "I'm the offline demo model, so this reply is scripted: configure a model provider "
    "(for example AI_GATEWAY_API_KEY or OPENAI_API_KEY) to get real answers."
)
TRY_THIS = (
    "Things you can try here: ask “What's the weather in Paris?” to see a tool call, "
    "“Write an essay about the ocean” to open a document, then “Make it shorter” or "
    "“Suggest improvements”; pick the reasoning model to see its thinking."
)

_PIECE = re.compile(r"\s*\S+\s*")
_KINDS = (
    r"document|essay|story|article|email|letter|poem|report|code|program|script|function|"
    r"snippet|spreadsheet|sheet|csv|table"
)
_CREATE = re.compile(rf"\b(?:write|create|draft|generate|compose|make)\b.*\b(?:{_KINDS})s?\b")
_UPDATE = re.compile(
    r"\b(?:edit|update|change|rewrite|revise|shorten|expand|modify)\b|\bmake\s+(?:it|the)\b"
)
_UPDATE_TARGET = re.compile(rf"\b(?:it|this|that|{_KINDS})\b")
_SUGGEST = re.compile(r"\b(?:suggest|suggestions|improvements)\b")
_WEATHER = re.compile(r"\b(?:weather|temperature|forecast)\b")
_CODE_KIND = re.compile(r"\b(?:code|program|script|function|snippet|python)\b")
_SHEET_KIND = re.compile(r"\b(?:spreadsheet|sheet|csv|table)\b")
_CITY = re.compile(
    r"\b(?:in|for|at)\s+([A-Za-z][A-Za-z.'’ -]*?)\s*(?:[?!.,;]|$|\b(?:today|tomorrow|now|"
    r"right now|this week|please)\b)"
)
_CITY_ALIASES = {"sf": "San Francisco", "nyc": "New York", "la": "Los Angeles"}
_DOC_TOOLS = ("createDocument", "updateDocument", "requestSuggestions")


@dataclass(slots=True)
class DemoReply:
    text: str = ""
    reasoning: str = ""
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    paced: bool = True


class DemoProvider:
    """Answers every request deterministically, word by word, `word_delay` seconds apart.
    It takes any attachment and says what it received."""

    input_types = InputTypes(data=frozenset({"*/*"}), urls=frozenset({"*/*"}))

    def __init__(self, word_delay: float = 0.04) -> None:
        self._delay = word_delay

    async def aclose(self) -> None:
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        reply = plan_reply(request)
        delay = self._delay if reply.paced else 0.0
        for piece in _PIECE.findall(reply.reasoning):
            yield ReasoningDelta(piece)
            if delay:
                await asyncio.sleep(delay)
        for piece in _PIECE.findall(reply.text):
            yield TextDelta(piece)
            if delay:
                await asyncio.sleep(delay)
        reason: Any = "stop"
        if reply.tool_name is not None:
            call_id = f"call_demo_{_count_tool_calls(request.messages) + 1}"
            args = orjson.dumps(reply.tool_input or {}).decode()
            yield ToolCallStart(call_id, reply.tool_name)
            middle = len(args) // 2
            for fragment in (args[:middle], args[middle:]):
                yield ToolCallDelta(call_id, fragment)
            yield ToolCallEnd(call_id, reply.tool_name, reply.tool_input or {})
            reason = "tool-calls"
        yield StepFinish(reason, Usage(), DEMO_MODEL)


def plan_reply(request: ModelRequest) -> DemoReply:
    """Decide the whole reply up front (pure, hence deterministic)."""
    system = request.system or ""
    last_text = message_text(request.messages[-1]) if request.messages else ""
    if request.model == TITLE_MODEL_ID or system == prompts.TITLE_PROMPT:
        return DemoReply(text=content.demo_title(last_text), paced=False)
    artifact = _artifact_reply(system, last_text)
    if artifact is not None:
        return artifact
    return _chat_reply(request)


def message_text(message: ModelMessage) -> str:
    return "".join(part.text for part in message.content if isinstance(part, TextPart))


def _artifact_reply(system: str, prompt: str) -> DemoReply | None:
    title = " ".join(prompt.split())[:120] or "Untitled"
    if system == prompts.TEXT_DOCUMENT_PROMPT:
        return DemoReply(text=content.text_document(title))
    if system == prompts.CODE_PROMPT:
        return DemoReply(text=content.code_document(title))
    if system == prompts.SHEET_PROMPT:
        return DemoReply(text=content.sheet_document(title))
    if system == prompts.SUGGESTIONS_PROMPT:
        return DemoReply(text=content.suggestion_lines(prompt))
    for kind, intro in prompts.UPDATE_INTROS.items():
        if system.startswith(intro) and prompts.UPDATE_CONTENT_MARKER in system:
            current = system.split(prompts.UPDATE_CONTENT_MARKER, 1)[1]
            return DemoReply(text=content.updated_document(current, kind, prompt))
    return None


def _chat_reply(request: ModelRequest) -> DemoReply:
    reasoning_on = request.reasoning or prompts.is_reasoning_model(request.model)
    last = request.messages[-1] if request.messages else None
    if last is not None and last.role == "tool":
        text = f"{_describe_results(last)} ({DEMO_NOTICE})"
        thought = "The tool has answered; I'll report its result in a sentence."
        return DemoReply(text=text, reasoning=thought if reasoning_on else "")
    prompt = message_text(last) if last is not None else ""
    offered = {tool.name for tool in request.tools}
    call = pick_tool(prompt, request.messages, offered)
    reasoning = _reasoning_about(prompt) if reasoning_on else ""
    if call is not None:
        return DemoReply(reasoning=reasoning, tool_name=call[0], tool_input=call[1])
    return DemoReply(text=_answer(prompt, last, offered), reasoning=reasoning)


def pick_tool(
    prompt: str, messages: list[ModelMessage], offered: set[str]
) -> tuple[str, dict[str, Any]] | None:
    """The tool call the prompt asks for, if that tool is offered."""
    lowered = prompt.lower()
    document_id = latest_document_id(messages)
    if _SUGGEST.search(lowered) and document_id and "requestSuggestions" in offered:
        return "requestSuggestions", {"documentId": document_id}
    create = _CREATE.search(lowered)
    update = _UPDATE.search(lowered) if _UPDATE_TARGET.search(lowered) else None
    update_first = update is not None and (create is None or update.start() <= create.start())
    if update_first and document_id and "updateDocument" in offered:
        return "updateDocument", {"id": document_id, "description": prompt.strip()}
    if create and "createDocument" in offered:
        return "createDocument", {"title": content.topic_title(prompt), "kind": _kind(lowered)}
    if _WEATHER.search(lowered) and "getWeather" in offered:
        return "getWeather", {"city": find_city(prompt)}
    return None


def _kind(lowered: str) -> str:
    if _CODE_KIND.search(lowered):
        return "code"
    return "sheet" if _SHEET_KIND.search(lowered) else "text"


def find_city(prompt: str) -> str:
    match = _CITY.search(prompt)
    if not match:
        return "San Francisco"
    city = match.group(1).strip(" .'’-")
    if city.lower().startswith("the "):
        city = city[4:]
    return _CITY_ALIASES.get(city.lower(), content.title_case(city.split())) or "San Francisco"


def latest_document_id(messages: list[ModelMessage]) -> str | None:
    """The most recent document id in the conversation's document tool calls and results."""
    for message in reversed(messages):
        for part in reversed(message.content):
            if isinstance(part, ToolResultPart) and part.tool_name in _DOC_TOOLS:
                found = _get(part.output, "id")
            elif isinstance(part, ToolCallPart) and part.tool_name in _DOC_TOOLS:
                found = _get(part.input, "id") or _get(part.input, "documentId")
            else:
                continue
            if isinstance(found, str) and found:
                return found
    return None


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _describe_results(message: ModelMessage) -> str:
    sentences = [
        _describe_result(part) for part in message.content if isinstance(part, ToolResultPart)
    ]
    return " ".join(sentences) or "The tool finished."


def _describe_result(part: ToolResultPart) -> str:
    out = part.output
    error = _get(out, "error")
    if part.is_error or error:
        reason = error if isinstance(error, str) else out if isinstance(out, str) else ""
        return f"The {part.tool_name} tool failed{': ' + reason[:200] if reason else '.'}"
    title = _get(out, "title") or "the document"
    if part.tool_name == "getWeather":
        current = _get(out, "current")
        units = _get(out, "current_units")
        temp = _get(current, "temperature_2m")
        unit = _get(units, "temperature_2m") or "°C"
        place = _get(out, "cityName") or "the requested place"
        if temp is None:
            return f"The weather service answered for {place}."
        return f"It is currently {temp}{unit} in {place}."
    if part.tool_name == "createDocument":
        kind = _get(out, "kind") or "text"
        return (
            f"I created the {kind} document “{title}”. Edit it in the panel, or ask me to "
            "update it or to suggest improvements."
        )
    if part.tool_name == "updateDocument":
        return f"I updated “{title}” as you asked."
    if part.tool_name == "requestSuggestions":
        return f"I added suggestions to “{title}”; accept or dismiss each one in the panel."
    return f"The {part.tool_name} tool finished."


def _reasoning_about(prompt: str) -> str:
    count = len(prompt.split())
    kind = "a question" if prompt.strip().endswith("?") else "a message"
    return (
        f"Let me think through this step by step. The user sent {kind} of {count} words. "
        "I am the offline demo model, so I cannot really reason about it; I will say so, "
        "restate it, and point to what this app can demonstrate."
    )


def _answer(prompt: str, last: ModelMessage | None, offered: set[str]) -> str:
    words = prompt.split()
    lowered = prompt.lower()
    parts: list[str] = []
    if words and all(w.strip("!.,?").lower() in ("hi", "hello", "hey") for w in words):
        parts.append("Hello!")
    parts.append(DEMO_NOTICE)
    if words:
        verb = "asked" if prompt.strip().endswith("?") else "wrote"
        snippet = " ".join(words)
        if len(snippet) > 160:
            snippet = snippet[:160].rstrip() + "…"
        plural = "" if len(words) == 1 else "s"
        parts.append(f"You {verb}: “{snippet}” ({len(words)} word{plural}).")
    attached = describe_attachments(last.content if last else [])
    if attached:
        parts.append(attached)
    wants_tool = _WEATHER.search(lowered) or _CREATE.search(lowered) or _SUGGEST.search(lowered)
    if wants_tool and not offered:
        parts.append("Tools are not available with this model, so I won't call any.")
    elif _SUGGEST.search(lowered) or (_UPDATE.search(lowered) and _UPDATE_TARGET.search(lowered)):
        parts.append("Create a document first, then ask me to edit it or to suggest improvements.")
    parts.append(TRY_THIS)
    return " ".join(parts)


def describe_attachments(content: list[Any]) -> str:
    """What the demo received: images, files (type, name, size) and inlined text files."""
    seen: list[str] = []
    for part in content:
        if isinstance(part, ImagePart):
            seen.append(f"an image ({part.media_type})")
        elif isinstance(part, FilePart):
            name = f" “{part.filename}”" if part.filename else ""
            size = f", {len(part.data)} bytes" if part.data is not None else ", by URL"
            seen.append(f"a file{name} ({part.media_type}{size})")
        elif isinstance(part, TextPart) and part.text.startswith("<file name="):
            seen.append(f"a text file inlined as {len(part.text)} characters")
    if not seen:
        return ""
    return f"You attached {', '.join(seen)}; I can't read them."


def _count_tool_calls(messages: list[ModelMessage]) -> int:
    return sum(
        1 for message in messages for part in message.content if isinstance(part, ToolCallPart)
    )
