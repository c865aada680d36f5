"""One chat turn's producer: detached from HTTP, logged for replay, stoppable, saves its reply."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatbot_api.ai.base import FinishReason, ModelMessage, Provider
from chatbot_api.ai.convert import to_model_messages
from chatbot_api.ai.titles import generate_title
from chatbot_api.ai.tools import ToolContext
from chatbot_api.ai.tools.base import ModelSource
from chatbot_api.chats.persistence import ReplyRecord, save_reply, save_title
from chatbot_api.chats.producers import TurnTasks
from chatbot_api.chats.turn_options import TurnOptions
from chatbot_api.chats.turn_steps import StepConfig, StepRunner
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import AppError
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

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.session_factory.kw["bind"]
        return engine


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
    history: list[dict[str, Any]]  # {role, parts} of the messages before the reply, oldest first
    reply_id: uuid.UUID
    continuing: dict[str, Any] | None  # the stored assistant message an approval continues
    title_parts: list[dict[str, Any]] | None  # first user message of a new chat
    options: TurnOptions | None = None  # client-context turns (chats/client_turn.py)


class Turn:
    """The producer. `early=True`: the model call starts before the request's transaction has
    committed; its chunks are held back (nothing reaches the log, no tool runs, nothing is
    saved) until `attach()`, or the turn is dropped by `abandon()`. `history_later=True`
    (with `early`): the turn starts even before the admission has read the chat: the plan's
    history is the new message alone, and `admit()` brings the rest."""

    def __init__(
        self, deps: TurnDeps, plan: TurnPlan, *, early: bool = False, history_later: bool = False
    ) -> None:
        self.deps = deps
        self.plan = plan
        self.stream_key = str(plan.stream_id)
        self._held: list[bytes] | None = [] if early else None
        sink = self._held.append if self._held is not None else self._log_sink()
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
        self._earlier: asyncio.Future[list[ModelMessage]] | None = None
        if history_later:
            self._earlier = self.runner.config.earlier = asyncio.get_running_loop().create_future()
        self.admitted: asyncio.Event | None = asyncio.Event() if early else None
        self.runner.ready = self.admitted
        self.finished = False
        self._task: asyncio.Task[None] | None = None
        self._in_steps: asyncio.Task[Any] | None = None
        self._abandoned = False
        self._title_task: asyncio.Task[None] | None = None
        self._title_text: str | None = None
        self._saved = False

    def start(self) -> asyncio.Task[None]:
        """Run the turn as an app task (not the request's): a disconnect does not end it.

        A new chat's title is generated alongside, as ai-chatbot does: it starts once the
        reply's first token is out (so it never competes with it), or when the steps end."""
        self._begin()
        self._task = self.deps.tasks.start(self.run(), name=f"turn-{self.stream_key}")
        if self._held is None:
            self.attached()
        return self._task

    def attach(self) -> None:
        """Admitted (committed) and the log is open: hand the held chunks to the log; from now
        on chunks go straight to it."""
        held, self._held = self._held, None
        if held is None:
            return
        sink = self._log_sink()
        if held:
            sink(b"".join(held))
        self.writer.redirect(sink)
        if self.admitted is not None:
            self.admitted.set()
        self.attached()

    def admit(
        self, history: list[dict[str, Any]], title_parts: list[dict[str, Any]] | None
    ) -> None:
        """For a turn started with `history_later`: the stored messages before the new one,
        oldest first (the model request's rest goes out with them), and a new chat's first
        message to title it by (before the first token: the model cannot answer earlier)."""
        plan = self.plan
        plan.history = [*history, *plan.history]
        self.runner.config.history = plan.history
        if self._earlier is not None and not self._earlier.done():
            self._earlier.set_result(to_model_messages(history))
        if title_parts is not None:
            plan.title_parts = title_parts
            self.runner.on_first_out = self._start_title

    def abandon(self) -> None:
        """Not admitted after all: drop the turn (nothing of it was visible or saved)."""
        self._abandoned = True
        if self._earlier is not None:
            self._earlier.cancel()
        for task in (self._task, self._title_task):
            if task is not None:
                task.cancel()

    async def fail(self, error_text: str) -> None:
        """Admitted, but it cannot go ahead (its message could not be made durable): drop the
        turn and end its log with an error, in place of the held chunks (nothing of the reply
        was visible or saved)."""
        self.abandon()
        self._held = None
        self.writer.redirect(self._log_sink())
        self.writer.error(error_text)
        self.writer.finish("error")
        self.writer.done()
        await self.deps.stream_log.close(self.stream_key)

    def _log_sink(self) -> Callable[[bytes], None]:
        return functools.partial(self.deps.stream_log.append, self.stream_key)

    def attached(self) -> None:
        """Chunks reach the log: watch for a stop."""
        self.deps.stream_log.on_stop(self.stream_key, self._on_stop)

    def _begin(self) -> None:
        """The reply's `start` chunk; the title waits for the first token."""
        self.writer.start(str(self.plan.reply_id))
        if self.plan.title_parts is not None:
            self.runner.on_first_out = self._start_title

    def _start_title(self) -> None:
        parts = self.plan.title_parts
        if parts is not None and self._title_task is None and not self._abandoned:
            self._title_task = self.deps.tasks.start(self._title(parts), name="chat-title")

    async def run(self) -> None:
        """The whole turn; the log is always closed, with `[DONE]`, whatever happens."""
        try:
            reason, stopped = await self._run_steps()
            if self.admitted is not None:
                await self.admitted.wait()
            self._start_title()  # a reply with no text (tools only, error, stop) still gets one
            title = self._title_task
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
            if not self._abandoned:
                self.writer.done()
                await self.deps.stream_log.close(self.stream_key)

    async def _run_steps(self) -> tuple[FinishReason, bool]:
        """(finish reason, stopped). A stop request or app shutdown cancels the steps (they
        run in this task; a stop cancels it only while they run)."""
        task = asyncio.current_task()
        self._in_steps = task
        try:
            return await self.runner.run(), False
        except asyncio.CancelledError:
            if self._abandoned or task is None:
                raise
            while task.uncancel():  # a stop, or shutdown: finish (save what exists) instead
                pass
            self.runner.close_open()
            return "stop", True
        finally:
            self._in_steps = None

    def _on_stop(self) -> None:
        if self._in_steps is not None:
            log.info("turn stopped by request", chat_id=str(self.plan.chat_id))
            self._in_steps.cancel()

    async def _title(self, parts: list[dict[str, Any]]) -> None:
        """Generate and stream (transient `data-chat-title`, if still live) the title; it is
        saved with the reply, or alone when the reply was saved without it."""
        settings = self.deps.settings
        try:
            title = await generate_title(
                self.deps.models, parts, time_limit=settings.chat_title_timeout_seconds
            )
            if title is None:
                return
            if not self.finished:
                self.writer.data("chat-title", title, transient=True)
            if self._saved:
                await save_title(self.deps.session_factory, self.plan.chat_id, title)
            else:
                self._title_text = title
        except Exception:  # a title is a nicety: never let it disturb the reply
            log.exception("title failed", chat_id=str(self.plan.chat_id))

    def _finish_metadata(self) -> dict[str, Any] | None:
        options = self.plan.options
        return options.finish_metadata(self.plan.model_id, self.runner.usage) if options else None

    def _title_wait(self) -> float:
        return self.deps.settings.chat_title_timeout_seconds + 5

    async def _save(self) -> None:
        plan = self.plan
        title, self._saved = self._title_text, True
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
                title=title,
            ),
        )


async def open_stream_log(deps: TurnDeps, stream_key: str, chat_id: str | None) -> None:
    """Open a turn's stream log (`chat_id=None`: not yet the chat's, see `StreamLog.open`).
    When it cannot be opened (e.g. Redis unreachable) the stored message is kept and there is
    no reply: 503 `offline:chat`."""
    try:
        await deps.stream_log.open(stream_key, chat_id)
    except Exception as exc:
        log.exception("opening the stream log failed", stream_id=stream_key)
        raise AppError("The reply could not be started.", code="offline:chat") from exc


async def run_turn(deps: TurnDeps, plan: TurnPlan) -> None:
    """Run a turn that was admitted and whose log is open (inside the caller's task)."""
    turn = Turn(deps, plan)
    turn.attached()
    turn._begin()
    await turn.run()
