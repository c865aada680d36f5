"""Provider-neutral messages to the OpenAI Chat Completions and Anthropic Messages shapes."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from chatbot_api.ai.attachments import data_url
from chatbot_api.ai.base import (
    FilePart,
    ImagePart,
    ModelMessage,
    ModelRequest,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

INVALID_ARGS = "The model produced tool arguments that are not valid JSON."


def parse_tool_args(raw: str) -> tuple[Any, str | None]:
    """Parsed tool arguments, or (raw text, error) when they are not valid JSON."""
    if not raw.strip():
        return {}, None
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError:
        return raw, INVALID_ARGS


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def openai_messages(request: ModelRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            out.append({"role": "user", "content": _openai_user_content(message)})
        elif message.role == "assistant":
            out.append(_openai_assistant(message))
        else:
            for part in message.content:
                if isinstance(part, ToolResultPart):
                    out.append(
                        {
                            "role": "tool",
                            "tool_call_id": part.tool_call_id,
                            "content": _json_text(part.output),
                        }
                    )
    return out


def _openai_user_content(message: ModelMessage) -> str | list[dict[str, Any]]:
    parts = message.content
    if all(isinstance(part, TextPart) for part in parts):
        return "".join(part.text for part in parts if isinstance(part, TextPart))
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image_url", "image_url": {"url": part.url}})
        elif isinstance(part, FilePart):
            content.append(_openai_file(part))
    return content


def _openai_file(part: FilePart) -> dict[str, Any]:
    """A PDF as a `file` content part, its bytes as a data: URL (Chat Completions takes no
    file URLs: the attachment rules never let one through)."""
    if part.data is None:
        raise ValueError(f"{part.media_type} file without its bytes")
    file: dict[str, Any] = {"file_data": data_url(part.media_type, part.data)}
    file["filename"] = part.filename or "attachment.pdf"
    return {"type": "file", "file": file}


def _openai_assistant(message: ModelMessage) -> dict[str, Any]:
    text = "".join(part.text for part in message.content if isinstance(part, TextPart))
    calls = [
        {
            "id": part.tool_call_id,
            "type": "function",
            "function": {"name": part.tool_name, "arguments": _json_text(part.input)},
        }
        for part in message.content
        if isinstance(part, ToolCallPart)
    ]
    result: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        result["tool_calls"] = calls
    return result


def anthropic_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Anthropic blocks; tool results travel as user `tool_result` blocks, and consecutive
    messages of one role are merged (the API wants user/assistant alternation)."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [block for part in message.content if (block := _anthropic_block(part))]
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _anthropic_block(part: Any) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        return {"type": "image", "source": _anthropic_image_source(part)}
    if isinstance(part, FilePart):
        return _anthropic_document(part)
    if isinstance(part, ToolCallPart):
        tool_input = part.input if isinstance(part.input, dict) else {"value": part.input}
        return {
            "type": "tool_use",
            "id": part.tool_call_id,
            "name": part.tool_name,
            "input": tool_input,
        }
    if isinstance(part, ToolResultPart):
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": part.tool_call_id,
            "content": _json_text(part.output),
        }
        if part.is_error:
            block["is_error"] = True
        return block
    return None  # reasoning is not sent back (no signature to replay)


def _anthropic_document(part: FilePart) -> dict[str, Any]:
    """A PDF as a `document` block: base64 from its bytes, else its (https) URL."""
    if part.data is not None:
        data = base64.b64encode(part.data).decode()
        source = {"type": "base64", "media_type": part.media_type, "data": data}
    else:
        source = {"type": "url", "url": part.url or ""}
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.filename:
        block["title"] = part.filename
    return block


def _anthropic_image_source(part: ImagePart) -> dict[str, Any]:
    if part.url.startswith("data:") and ";base64," in part.url:
        header, data = part.url.split(",", 1)
        media_type = header[5:].split(";", 1)[0] or part.media_type
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": part.url}
