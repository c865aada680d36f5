"""One admitted turn's producer: runs the model steps detached from the request, writes every
chunk to the stream log, saves the reply and ends the log, balanced, whatever ends the turn."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from chatbot_api.ai.attachments import AttachmentRules
from chatbot_api.ai.base import Usage
from chatbot_api.ai.prompts import TITLE_MAX_CHARS
from chatbot_api.ai.resilience import RetryPolicy, Target
from chatbot_api.ai.titles import generate_title, title_prompt_text
from chatbot_api.ai.tools import Tool, ToolContext
from chatbot_api.chats.turn.deps import TurnDeps
from chatbot_api.chats.turn.steps import FAILED, STOPPED_TOOL, Outcome, StepConfig, StepRunner
from chatbot_api.chats.turn.store import ReplyRow
from chatbot_api.db.types import utcnow
from chatbot_api.streaming.writer import UIMessageWriter

log = structlog.get_logger("chatbot_api.turn")

SHUTDOWN_TEXT = "The server restarted, so the reply stopped here. Please try again."


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """Everything decided before the turn streams."""

    stream_id: uuid.UUID
    chat_id: uuid.UUID
    user_id: uuid.UUID
    model_id: str
    targets: tuple[Target, ...]  # who answers: the model, then its fallbacks
    retry: RetryPolicy
    reasoning: bool
    system: str
    context: list[dict[str, Any]]  # {role, parts} of the messages before the reply
    reply_id: uuid.UUID
    continuing: dict[str, Any] | None  # the stored assistant message the turn continues
    title_parts: list[dict[str, Any]] | None  # a new chat's first message, to title it by
    tools: Mapping[str, Tool]
    temperature: float | None
    max_output_tokens: int
    usage_metadata: bool  # `finish` carries {modelId, usage} (assistant-ui's usage display)
    attachments: AttachmentRules | None = None  # reads and checks the context's files
    durable: asyncio.Future[None] | None = None  # see `Admitted.durable`

    def recovery_meta(self) -> bytes:
        """What another worker needs to end and save the turn should this worker die."""
        title = fallback_title(self.title_parts) if self.title_parts is not None else None
        return orjson.dumps(
            {
                "chat": str(self.chat_id),
                "user": str(self.user_id),
                "reply": str(self.reply_id),
                "model": self.model_id,
                "continues": self.continuing is not None,
                "title": title,
            }
        )


class Turn:
    """The producer of one admitted turn. `start()` runs it as an app task; `interrupt()`
    ends its steps early: a user's stop, or shutdown (then the reply ends with an error)."""

    def __init__(self, deps: TurnDeps, plan: TurnPlan) -> None:
        self.deps = deps
        self.plan = plan
        self.stream_key = str(plan.stream_id)
        self.writer = UIMessageWriter(
            functools.partial(deps.stream_log.append, self.stream_key), message=plan.continuing
        )
        settings = deps.settings
        self.runner = StepRunner(
            self.writer,
            StepConfig(
                targets=plan.targets,
                retry=plan.retry,
                system=plan.system,
                history=plan.context,
                reasoning=plan.reasoning,
                max_steps=settings.chat_max_steps,
                idle_timeout=settings.chat_step_idle_timeout_seconds,
                tool_timeout=settings.tool_timeout_seconds,
                max_output_tokens=plan.max_output_tokens,
                tools=plan.tools,
                temperature=plan.temperature,
                attachments=plan.attachments,
            ),
            ToolContext(
                user_id=plan.user_id,
                sink=self.writer,
                session_factory=deps.session_factory,
                registry=deps.models,
                http=deps.http,
                settings=settings,
            ),
        )
        self.runner.gate = plan.durable
        self._steps: asyncio.Task[Outcome] | None = None
        self._why: str | None = None  # "stop" or "shutdown", once interrupted
        self._title: asyncio.Task[str | None] | None = None
        self._ended = False

    def start(self) -> None:
        """Start the reply: its `start` chunk, its steps (a task of their own, so that an
        interrupt cancels them alone) and the turn's task, which ends and saves it."""
        self.deps.stream_log.on_stop(self.stream_key, functools.partial(self.interrupt, "stop"))
        self.writer.start(str(self.plan.reply_id))
        if self.plan.title_parts is not None:
            self.runner.on_first_out = self._start_title
        self._steps = asyncio.create_task(self.runner.run(), name="turn-steps")
        self.deps.turns.start(self, self.run(), name=f"turn-{self.stream_key}")

    def interrupt(self, why: str) -> None:
        if self._why is not None:
            return
        self._why = why
        if why == "stop":
            log.info("turn stopped by request", chat_id=str(self.plan.chat_id))
        if self._steps is not None:
            self._steps.cancel()

    async def run(self) -> None:
        """The whole turn; its log always ends, balanced, with `[DONE]`."""
        try:
            outcome = await self._run_steps()
            title = await self._title_for_save()
            if await self._message_durable():
                await self._save(title)
            else:
                outcome = Outcome("error", FAILED)
            self._end(outcome)
        except Exception:
            log.exception("turn crashed", chat_id=str(self.plan.chat_id))
        finally:
            if not self._ended:
                self._end(Outcome("error", FAILED))
            await self.deps.stream_log.close(self.stream_key)

    async def _run_steps(self) -> Outcome:
        """The steps' outcome, or the interrupt's."""
        steps = self._steps
        assert steps is not None, "started"
        try:
            await asyncio.wait({steps})
        finally:
            steps.cancel()
        if not steps.cancelled():
            return steps.result()
        if self._why == "shutdown":
            self.runner.close_open(SHUTDOWN_TEXT)
            return Outcome("error", SHUTDOWN_TEXT)
        self.runner.close_open(STOPPED_TOOL)
        return Outcome("stop")

    async def _message_durable(self) -> bool:
        """Whether the turn's message is durable (PostgreSQL: its stream row is committed);
        if it could not be made so, nothing of the reply is saved."""
        if self.plan.durable is None:
            return True
        try:
            await self.plan.durable
        except Exception as exc:
            log.warning("the message could not be made durable", error=repr(exc))
            return False
        return True

    def _end(self, outcome: Outcome) -> None:
        self._ended = True
        metadata = None
        if self.plan.usage_metadata:
            metadata = usage_metadata(self.answered_by(), self.runner.usage)
        self.writer.end(outcome.reason, error_text=outcome.error_text, metadata=metadata)

    def answered_by(self) -> str:
        """The model that answered, as its upstream named it (the demo: `demo`); before any
        step finished, the one the turn asked for."""
        return self.runner.model or self.plan.targets[0].upstream_model

    # --- the title --------------------------------------------------------------------
    def _start_title(self) -> None:
        """A new chat's title, generated alongside as ai-chatbot does: from the reply's first
        token on (it never competes with it), or once the steps end."""
        parts = self.plan.title_parts
        if parts is not None and self._title is None:
            self._title = self.deps.turns.spawn(self._generate_title(parts), name="chat-title")

    async def _generate_title(self, parts: list[dict[str, Any]]) -> str | None:
        title = await generate_title(
            self.deps.models, parts, time_limit=self.deps.settings.chat_title_timeout_seconds
        )
        if title is not None and not self._ended:
            self.writer.data("chat-title", title, transient=True)
        return title

    async def _title_for_save(self) -> str | None:
        """The title to save with the reply, if known by then: waited for (bounded) unless
        the turn was interrupted; on shutdown, one from the message if it is not ready. One
        that arrives later is saved on its own."""
        parts = self.plan.title_parts
        if parts is None:
            return None
        self._start_title()
        task = self._title
        assert task is not None
        if self._why is None:
            wait = self.deps.settings.chat_title_timeout_seconds + 5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), wait)
        if task.done():
            return None if task.cancelled() else task.result()
        if self._why == "shutdown":
            task.cancel()
            return fallback_title(parts)
        task.add_done_callback(self._save_late_title)
        return None

    def _save_late_title(self, task: asyncio.Task[str | None]) -> None:
        if not task.cancelled() and task.exception() is None and (title := task.result()):
            replies = self.deps.replies
            self.deps.turns.spawn(replies.save_title(self.plan.chat_id, title), name="title")

    async def _save(self, title: str | None) -> None:
        plan = self.plan
        parts = self.writer.message_parts()
        if plan.continuing is None and not has_content(parts):
            if title is not None:
                await self.deps.replies.save_title(plan.chat_id, title)
            return
        await self.deps.replies.save(
            reply_row(
                plan, parts, self.runner.usage, title, saved_by="turn", model=self.answered_by()
            )
        )


def reply_row(
    plan: TurnPlan,
    parts: list[dict[str, Any]],
    usage: Usage,
    title: str | None,
    *,
    saved_by: str,
    model: str | None = None,
) -> ReplyRow:
    """The reply as saved; `model`: the one that answered (else the one asked for)."""
    return ReplyRow(
        stream_id=plan.stream_id,
        chat_id=plan.chat_id,
        user_id=plan.user_id,
        message_id=plan.reply_id,
        parts=parts,
        continues=plan.continuing is not None,
        model_id=model or plan.model_id,
        usage={
            "inputTokens": usage.input_tokens,
            "outputTokens": usage.output_tokens,
            "reasoningTokens": usage.reasoning_tokens,
            "cachedInputTokens": usage.cached_input_tokens,
        },
        title=title,
        saved_by=saved_by,
        created_at=utcnow(),
    )


def has_content(parts: list[dict[str, Any]]) -> bool:
    """A reply worth saving: anything beyond step markers (an early error leaves none)."""
    return any(part.get("type") != "step-start" for part in parts)


def fallback_title(parts: list[dict[str, Any]]) -> str:
    """A title from the message itself, for a chat whose titling was cut short."""
    text = " ".join(title_prompt_text(parts).split())
    if len(text) <= TITLE_MAX_CHARS:
        return text or "New chat"
    return text[: TITLE_MAX_CHARS - 1].rstrip() + "…"


def usage_metadata(model_id: str, usage: Usage) -> dict[str, Any]:
    """`finish.messageMetadata`: the AI SDK's usage names, as `useThreadTokenUsage` reads."""
    totals: dict[str, Any] = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens,
    }
    if usage.reasoning_tokens is not None:
        totals["reasoningTokens"] = usage.reasoning_tokens
    if usage.cached_input_tokens is not None:
        totals["cachedInputTokens"] = usage.cached_input_tokens
    return {"modelId": model_id, "usage": totals}
