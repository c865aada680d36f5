"""The `system/thread_title` run: a short title from the title model (the demo model offline),
saved on the thread by a producer that outlives the HTTP response, streamed as plain text."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.ai import prompts
from chatbot_api.ai.registry import ModelRegistry
from chatbot_api.ai.titles import title_for_text
from chatbot_api.cloud import repository as repo
from chatbot_api.db.types import utcnow

log = structlog.get_logger("chatbot_api.cloud.titles")

TITLE_ASSISTANT_ID = "system/thread_title"
MAX_PROMPT_CHARS = 4000
FALLBACK_WORDS = 6
UNTITLED = "New Chat"

# Producers still saving a title after their client went away (kept from garbage collection).
_running: set[asyncio.Task[None]] = set()


def _message_text(message: Mapping[str, Any]) -> str:
    """The text of a ThreadMessage-like object (`content` parts or string, or UI `parts`)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else message.get("parts")
    if not isinstance(parts, list):
        return ""
    texts = [
        str(part.get("text", ""))
        for part in parts
        if isinstance(part, Mapping) and part.get("type") == "text"
    ]
    return " ".join(text for text in texts if text)


def title_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """The first user message's text (what the title describes), else all text; capped."""
    for message in messages:
        if message.get("role") == "user":
            text = _message_text(message).strip()
            if text:
                return text[:MAX_PROMPT_CHARS]
    joined = " ".join(_message_text(message) for message in messages)
    return " ".join(joined.split())[:MAX_PROMPT_CHARS]


def fallback_title(prompt: str) -> str:
    """The prompt's first words, when no model answers."""
    return prompts.clean_title(" ".join(prompt.split()[:FALLBACK_WORDS])) or UNTITLED


class TitleRun:
    """Generates one thread's title; the HTTP response only tails its queue."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        registry: ModelRegistry | None,
        timeout: float,
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.timeout = timeout

    def start(self, user_id: uuid.UUID, thread_id: uuid.UUID, prompt: str) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.create_task(self._produce(queue, user_id, thread_id, prompt))
        _running.add(task)
        task.add_done_callback(_running.discard)
        return _drain(queue)

    async def _produce(
        self,
        queue: asyncio.Queue[str | None],
        user_id: uuid.UUID,
        thread_id: uuid.UUID,
        prompt: str,
    ) -> None:
        try:
            generated = None
            if prompt and self.registry is not None:
                generated = await title_for_text(self.registry, prompt, time_limit=self.timeout)
            title = generated or fallback_title(prompt)
            queue.put_nowait(title)
            await self._save(user_id, thread_id, title)
        except Exception:
            log.exception("title run failed", thread_id=str(thread_id))
        finally:
            queue.put_nowait(None)

    async def _save(self, user_id: uuid.UUID, thread_id: uuid.UUID, title: str) -> None:
        async with self.session_factory() as session:
            values = {"title": title, "updated_at": utcnow()}
            await repo.update_thread(session, user_id, thread_id, values)
            await session.commit()


async def _drain(queue: asyncio.Queue[str | None]) -> AsyncIterator[str]:
    while (chunk := await queue.get()) is not None:
        yield chunk
