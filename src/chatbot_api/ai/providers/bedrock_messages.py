"""Provider-neutral messages to Bedrock Converse's content blocks (text, image, toolUse,
toolResult), user/assistant alternating."""

from __future__ import annotations

from typing import Any

import orjson

from chatbot_api.ai.base import (
    ContentPart,
    ImagePart,
    ModelRequest,
    ProviderError,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

MSG_IMAGE_URL = (
    "This model (AWS Bedrock) cannot read images by URL; only images sent inline are supported."
)
MSG_IMAGE_FORMAT = "This model (AWS Bedrock) reads PNG, JPEG, GIF and WebP images only."
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                 "image/gif": "gif", "image/webp": "webp"}  # fmt: skip


def converse_messages(request: ModelRequest, provider: str) -> list[dict[str, Any]]:
    """Converse messages; tool results travel as user `toolResult` blocks, and consecutive
    messages of one role are merged (Converse wants user/assistant alternation). An image it
    cannot take (by URL, or of another format) is a ProviderError before any request."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [block for part in message.content if (block := _block(part, provider))]
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _block(part: ContentPart, provider: str) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None  # Converse rejects blank text
    if isinstance(part, ImagePart):
        return {"image": _image(part, provider)}
    if isinstance(part, ToolCallPart):
        tool_input = part.input if isinstance(part.input, dict) else {"value": part.input}
        return {
            "toolUse": {"toolUseId": part.tool_call_id, "name": part.tool_name, "input": tool_input}
        }
    if isinstance(part, ToolResultPart):
        output = part.output
        content = {"json": output} if isinstance(output, dict) else {"text": _text(output)}
        return {
            "toolResult": {
                "toolUseId": part.tool_call_id,
                "content": [content],
                "status": "error" if part.is_error else "success",
            }
        }
    return None  # reasoning is not sent back (no signature to replay)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _image(part: ImagePart, provider: str) -> dict[str, Any]:
    if not (part.url.startswith("data:") and ";base64," in part.url):
        raise ProviderError(
            MSG_IMAGE_URL, detail=f"{provider}: image by URL {part.url[:200]!r}", status=400
        )
    header, data = part.url.split(",", 1)
    media_type = header[5:].split(";", 1)[0] or part.media_type
    image_format = IMAGE_FORMATS.get(media_type.lower())
    if image_format is None:
        raise ProviderError(
            MSG_IMAGE_FORMAT, detail=f"{provider}: image of type {media_type!r}", status=400
        )
    return {"format": image_format, "source": {"bytes": data}}
