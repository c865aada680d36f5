"""Chat titles: a short title for a new chat from its first user message, by the title model."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from chatbot_api.ai import prompts
from chatbot_api.ai.base import ModelMessage, ModelRequest, ProviderError, TextDelta, TextPart
from chatbot_api.ai.resilience import open_stream
from chatbot_api.ai.tools.base import ModelSource

log = structlog.get_logger("chatbot_api.titles")
MAX_PROMPT_CHARS = 4000
MAX_TITLE_TOKENS = 40


def title_prompt_text(parts: Sequence[Mapping[str, Any]]) -> str:
    """The message's text parts joined without separator (as ai-chatbot does), capped."""
    text = "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
    return text[:MAX_PROMPT_CHARS]


async def generate_title(
    registry: ModelSource, parts: Sequence[Mapping[str, Any]], *, time_limit: float
) -> str | None:
    """The cleaned title of a message's parts, or None (see `title_for_text`)."""
    return await title_for_text(registry, title_prompt_text(parts), time_limit=time_limit)


async def title_for_text(registry: ModelSource, text: str, *, time_limit: float) -> str | None:
    """The title model's cleaned title for `text`, or None when the model fails, times out
    or says nothing."""
    if not text.strip():
        return None
    resolved = registry.title_model()
    request = ModelRequest(
        model=resolved.targets[0].upstream_model,
        system=prompts.TITLE_PROMPT,
        messages=[ModelMessage(role="user", content=[TextPart(text=text)])],
        max_output_tokens=MAX_TITLE_TOKENS,
    )
    chunks: list[str] = []
    try:
        async with asyncio.timeout(time_limit):
            events, _ = await open_stream(resolved.targets, request, resolved.retry)
            async for event in events:
                if isinstance(event, TextDelta):
                    chunks.append(event.text)
    except (ProviderError, TimeoutError) as exc:
        log.warning("title generation failed", error=str(exc))
        return None
    return prompts.clean_title("".join(chunks)) or None
