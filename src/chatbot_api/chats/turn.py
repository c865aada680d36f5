"""One chat turn's producer: detached from HTTP, logged for replay, stoppable, saves its reply."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.ai.base import FinishReason, Provider
from chatbot_api.ai.titles import generate_title
from chatbot_api.ai.tools import ToolContext
from chatbot_api.ai.tools.base import ModelSource
from chatbot_api.chats.persistence import ReplyRecord, save_reply, save_title
from chatbot_api.chats.producers import TurnTasks
from chatbot_api.chats.turn_options import TurnOptions
from chatbot_api.chats.turn_steps import StepConfig, StepRunner
from chatbot_api.core.config import Settings
from chatbot_api.streaming.log import StreamLog
from chatbot_api.streaming.writer import UIMessageWriter

log = structlog.get_logger("chatbot_api.turn")


@dataclass(slots=True)
class TurnDeps:
    """The app resources a turn uses (from `app.state`)."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    models: ModelSource
    stream_log: StreamLog
    http: httpx.AsyncClient
    tasks: TurnTasks


@dataclass(slots=True)
class TurnPlan:
    """Everything decided before streaming (in the request's short transaction)."""

    stream_id: uuid.UUID
    chat_id: uuid.UUID
    user_id: uuid.UUID
    model_id: str
    provider: Provider
    upstream_model: str
    system: str
    reasoning: bool
    history: list[dict[str, Any]]  # UI messages before the reply, oldest first
    reply_id: uuid.UUID
    continuing: dict[str, Any] | None  # the stored assistant message an approval continues
    title_parts: list[dict[str, Any]] | None  # first user message of a new chat
    options: TurnOptions | None = None  # client-context turns (chats/client_turn.py)


class Turn:
    def __init__(self, deps: TurnDeps, plan: TurnPlan) -> None:
        self.deps = deps
        self.plan = plan
        self.stream_key = str(plan.stream_id)
        sink = functools.partial(deps.stream_log.append, self.stream_key)
        self.writer = UIMessageWriter(sink, message=plan.continuing)
        settings = deps.settings
        self.runner = StepRunner(
            self.writer,
            StepConfig(
                provider=plan.provider,
                upstream_model=plan.upstream_model,
                system=plan.system,
                history=plan.history,
                reasoning=plan.reasoning,
                max_steps=settings.chat_max_steps,
                idle_timeout=settings.chat_step_idle_timeout_seconds,
                tool_timeout=settings.tool_timeout_seconds,
                max_output_tokens=settings.max_output_tokens,
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
        if plan.options is not None:
            plan.options.apply(self.runner.config)
        self.finished = False

    async def run(self) -> None:
        """The whole turn; the log is always closed, with `[DONE]`, whatever happens."""
        try:
            self.writer.start(str(self.plan.reply_id))
            title = self._start_title()
            reason, stopped = await self._run_steps()
            if title is not None and not stopped:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(title), self._title_wait())
            await self._save()
            self.finished = True
            self.writer.finish(reason, self._finish_metadata())
        except Exception:
            log.exception("turn crashed", chat_id=str(self.plan.chat_id))
        finally:
            self.finished = True
            self.writer.done()
            await self.deps.stream_log.close(self.stream_key)

    async def _run_steps(self) -> tuple[FinishReason, bool]:
        """(finish reason, stopped). A stop request or app shutdown cancels the steps."""
        steps = asyncio.create_task(self.runner.run())
        watcher = asyncio.create_task(self._watch_stop(steps))
        try:
            return await steps, False
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                task.uncancel()  # shutdown: finish the turn (save what exists) instead
                steps.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await steps
            self.runner.close_open()
            return "stop", True
        finally:
            watcher.cancel()

    async def _watch_stop(self, steps: asyncio.Task[Any]) -> None:
        async for _ in self.deps.stream_log.stop_requested(self.stream_key):
            log.info("turn stopped by request", chat_id=str(self.plan.chat_id))
            steps.cancel()
            return

    def _start_title(self) -> asyncio.Task[None] | None:
        if self.plan.title_parts is None:
            return None
        return self.deps.tasks.start(self._title(self.plan.title_parts), name="chat-title")

    async def _title(self, parts: list[dict[str, Any]]) -> None:
        """Generate, stream (transient `data-chat-title`, if still live) and save the title."""
        settings = self.deps.settings
        try:
            title = await generate_title(
                self.deps.models, parts, time_limit=settings.chat_title_timeout_seconds
            )
            if title is None:
                return
            if not self.finished:
                self.writer.data("chat-title", title, transient=True)
            await save_title(self.deps.session_factory, self.plan.chat_id, title)
        except Exception:  # a title is a nicety: never let it disturb the reply
            log.exception("title failed", chat_id=str(self.plan.chat_id))

    def _finish_metadata(self) -> dict[str, Any] | None:
        options = self.plan.options
        return options.finish_metadata(self.plan.model_id, self.runner.usage) if options else None

    def _title_wait(self) -> float:
        return self.deps.settings.chat_title_timeout_seconds + 5

    async def _save(self) -> None:
        plan = self.plan
        await save_reply(
            self.deps.session_factory,
            ReplyRecord(
                chat_id=plan.chat_id,
                user_id=plan.user_id,
                message_id=plan.reply_id,
                parts=self.writer.message_parts(),
                existing=plan.continuing is not None,
                model_id=plan.model_id,
                usage=self.runner.usage,
            ),
        )


async def run_turn(deps: TurnDeps, plan: TurnPlan) -> None:
    await Turn(deps, plan).run()
