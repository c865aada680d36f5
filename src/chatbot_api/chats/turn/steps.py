"""The model steps of one turn: stream each step into the writer, run its tools, feed their
results back, until the model is done."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import BaseModel

from chatbot_api.ai.attachments import AttachmentRules
from chatbot_api.ai.base import (
    FinishReason,
    ModelEvent,
    ModelMessage,
    ModelRequest,
    ProviderError,
    ReasoningDelta,
    StepFinish,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolSpec,
    Usage,
)
from chatbot_api.ai.convert import to_model_messages, tool_name_of
from chatbot_api.ai.resilience import RetryPolicy, Target, open_stream
from chatbot_api.ai.tools import CHAT_TOOLS, Tool, ToolContext, ToolFailed
from chatbot_api.streaming.writer import UIMessageWriter

log = structlog.get_logger("chatbot_api.turn")
STALLED = "The model stopped responding. Please try again."
FAILED = "Something went wrong while generating the reply. Please try again."
TOOL_FAILED = "The tool failed unexpectedly."
STOPPED_TOOL = "Stopped before the tool finished."


@dataclass(slots=True)
class StepConfig:
    targets: Sequence[Target]  # who answers: the model, then its fallbacks
    retry: RetryPolicy
    system: str
    history: list[dict[str, Any]]  # UI messages before the reply
    reasoning: bool  # reasoning models: no tools, thinking streamed
    max_steps: int
    idle_timeout: float
    tool_timeout: float
    max_output_tokens: int | None = None
    tools: Mapping[str, Tool] = field(default_factory=lambda: CHAT_TOOLS)
    temperature: float | None = None
    attachments: AttachmentRules | None = None  # None: file parts go as converted


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the steps ended: the finish reason, and the error to show (provider failures)."""

    reason: FinishReason
    error_text: str | None = None


_SPECS: dict[type[Tool], ToolSpec] = {}


def tool_spec(tool: Tool) -> ToolSpec:
    """The tool's spec, built once per server tool class (its JSON schema costs ~1 ms)."""
    if tool.runs_on_client:  # per-request classes, their spec is the client's schema as is
        return tool.spec()
    spec = _SPECS.get(type(tool))
    if spec is None:
        spec = _SPECS[type(tool)] = tool.spec()
    return spec


@dataclass(slots=True)
class _Call:
    tool_call_id: str
    tool: Tool
    args: BaseModel


class StepRunner:
    """Runs the steps and says how they ended. A provider failure ends them with its short
    public message (the partial reply stays); a cancellation (stop) propagates, and the
    caller closes what is open (`close_open`)."""

    def __init__(self, writer: UIMessageWriter, config: StepConfig, ctx: ToolContext) -> None:
        self.writer = writer
        self.config = config
        self.ctx = ctx
        self.usage = Usage()
        self.model: str | None = None  # the model that answered the last step, as it said
        self._history: list[ModelMessage] = []
        self._block: tuple[str, str] | None = None  # ("t" | "r", id) of the open text block
        self._open_calls: set[str] = set()
        self._last_event = 0.0
        self._idle_expired = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._first_out = False
        # Resolves once the turn's message is durable: the model's first event waits for it
        # (its request already went out), so nothing of the reply comes before.
        self.gate: asyncio.Future[None] | None = None
        self.on_first_out: Callable[[], None] | None = None  # once, after the first token
        self.answered: Target | None = None  # the target that answered the last step

    async def run(self) -> Outcome:
        try:
            self._history = await self._prepare_history()
            await self._answer_approvals()
            for step in range(self.config.max_steps):
                final = step == self.config.max_steps - 1
                reason, calls = await self._step(tools=not (final or self.config.reasoning))
                if not calls:
                    self.writer.finish_step()
                    return Outcome("stop" if reason == "tool-calls" else reason)
                waiting = await self._run_calls(calls)
                self.writer.finish_step()
                if waiting:
                    return Outcome("tool-calls")
            return Outcome("stop")
        except ProviderError as exc:
            log.warning("provider failed", error=exc.detail or str(exc), status=exc.status)
            self.close_open(exc.public_message)
            return Outcome("error", exc.public_message)
        except Exception:
            log.exception("turn failed")
            self.close_open(FAILED)
            return Outcome("error", FAILED)

    async def _prepare_history(self) -> list[ModelMessage]:
        """The conversation before the reply, as the model sees it, attachments read once
        (the new message's were checked before admission; a stored one that no longer fits
        becomes a note)."""
        history = to_model_messages(self.config.history)
        rules = self.config.attachments
        return history if rules is None else await rules.prepare(history, strict=False)

    def close_open(self, reason: str = STOPPED_TOOL) -> None:
        """End the open text block and any tool call still running (stop, error)."""
        self._close_block()
        for call_id in sorted(self._open_calls):
            self.writer.tool_output_error(call_id, reason if reason else STOPPED_TOOL)
        self._open_calls.clear()

    # --- one model step -----------------------------------------------------------------
    async def _step(self, *, tools: bool) -> tuple[FinishReason, list[_Call]]:
        config = self.config
        parts = self.writer.message_parts()
        request = ModelRequest(
            model=config.targets[0].upstream_model,
            system=config.system,
            messages=[*self._history, *to_model_messages([{"role": "assistant", "parts": parts}])],
            tools=[tool_spec(tool) for tool in config.tools.values()] if tools else [],
            reasoning=config.reasoning,
            max_output_tokens=config.max_output_tokens,
            temperature=config.temperature,
        )
        self.writer.start_step()
        # Retries and fallbacks until the first event (each attempt bounded by its provider's
        # timeouts); from then on the step's idle watchdog.
        events, self.answered = await open_stream(config.targets, request, config.retry)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        self._idle_expired = False
        self._last_event = loop.time()
        self._idle_timer = loop.call_at(
            self._last_event + config.idle_timeout, self._idle_check, task, loop
        )
        try:
            return await self._consume(events, tools, loop)
        except asyncio.CancelledError:
            if not self._idle_expired:
                raise
            if task is not None:
                task.uncancel()
            raise ProviderError(STALLED, detail="idle timeout") from None
        finally:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._close_block()

    async def _consume(
        self,
        events: AsyncIterator[ModelEvent],
        tools: bool,
        loop: asyncio.AbstractEventLoop,
    ) -> tuple[FinishReason, list[_Call]]:
        writer = self.writer
        reason: FinishReason = "stop"
        calls: list[_Call] = []
        async for event in events:
            self._last_event = loop.time()
            if self.gate is not None:
                gate, self.gate = self.gate, None
                await gate
            if isinstance(event, TextDelta):
                block = self._block
                if block is None or block[0] != "t":
                    block = self._open_block("t")
                writer.text_delta(block[1], event.text)
                if not self._first_out:
                    await self._let_first_out()
            elif isinstance(event, ReasoningDelta):
                block = self._block
                if block is None or block[0] != "r":
                    block = self._open_block("r")
                writer.reasoning_delta(block[1], event.text)
                if not self._first_out:
                    await self._let_first_out()
            elif isinstance(event, StepFinish):
                self.usage.add(event.usage)
                answered = self.answered or self.config.targets[0]
                self.model = event.model or answered.upstream_model
                reason = event.reason
            elif tools:
                self._tool_event(event, calls)
        return reason, calls

    async def _let_first_out(self) -> None:
        """Once per turn, after the first text or reasoning: give the event loop a turn, so the
        readers send that first token now rather than after every event already buffered."""
        self._first_out = True
        await asyncio.sleep(0)
        if self.on_first_out is not None:
            self.on_first_out()

    def _open_block(self, tag: str) -> tuple[str, str]:
        self._close_block()
        block = (tag, secrets.token_hex(6))
        if tag == "t":
            self.writer.text_start(block[1])
        else:
            self.writer.reasoning_start(block[1])
        self._block = block
        return block

    def _close_block(self) -> None:
        if self._block is None:
            return
        tag, block_id = self._block
        self._block = None
        if tag == "t":
            self.writer.text_end(block_id)
        else:
            self.writer.reasoning_end(block_id)

    def _idle_check(self, task: asyncio.Task[Any] | None, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the step when the model sent nothing for `idle_timeout` seconds (a timer,
        re-armed lazily from the last event's time: nothing per event but one store)."""
        deadline = self._last_event + self.config.idle_timeout
        if loop.time() < deadline:
            self._idle_timer = loop.call_at(deadline, self._idle_check, task, loop)
            return
        self._idle_expired = True
        if task is not None:
            task.cancel()

    # --- tool calls ---------------------------------------------------------------------
    def _tool_event(self, event: Any, calls: list[_Call]) -> None:
        writer = self.writer
        if isinstance(event, ToolCallStart):
            self._close_block()
            writer.tool_input_start(event.tool_call_id, event.tool_name)
            self._open_calls.add(event.tool_call_id)
        elif isinstance(event, ToolCallDelta):
            writer.tool_input_delta(event.tool_call_id, event.args_delta)
        elif isinstance(event, ToolCallEnd):
            self._close_block()
            call = self._accept_call(event)
            if call is not None:
                calls.append(call)

    def _accept_call(self, event: ToolCallEnd) -> _Call | None:
        call_id, name = event.tool_call_id, event.tool_name
        self._open_calls.discard(call_id)
        tool = self.config.tools.get(name)
        error: str | None = None
        args: BaseModel | None = None
        if event.input_error is not None:
            error = f"The arguments for {name} are not valid JSON."
        elif tool is None:
            error = f"There is no tool named {name}."
        else:
            try:
                args = tool.parse(event.input)
            except ValueError as exc:
                error = str(exc)
        if error is not None or tool is None or args is None:
            self.writer.tool_input_error(call_id, name, event.input, error or TOOL_FAILED)
            return None
        self.writer.tool_input_available(call_id, name, event.input)
        self._open_calls.add(call_id)
        return _Call(call_id, tool, args)

    async def _run_calls(self, calls: list[_Call]) -> bool:
        """Run the calls in order; True when one waits for the user's approval (or the
        client: a frontend tool's call is never run here, the turn ends with `tool-calls`)."""
        waiting = False
        for call in calls:
            if call.tool.runs_on_client:
                self._open_calls.discard(call.tool_call_id)
                waiting = True
            elif call.tool.needs_approval(self.ctx.settings):
                self.writer.tool_approval_request(str(uuid.uuid4()), call.tool_call_id)
                self._open_calls.discard(call.tool_call_id)
                waiting = True
            else:
                await self._execute(call)
        return waiting

    async def _execute(self, call: _Call) -> None:
        call_id, tool = call.tool_call_id, call.tool
        self._open_calls.add(call_id)
        try:
            async with asyncio.timeout(self.config.tool_timeout):
                output = await tool.run(call.args, self.ctx)
        except ToolFailed as exc:
            self._tool_error(call_id, str(exc))
        except TimeoutError:
            self._tool_error(call_id, f"{tool.name} took too long and was stopped.")
        except ProviderError as exc:
            self._tool_error(call_id, exc.public_message)
        except Exception:
            log.exception("tool failed", tool=tool.name)
            self._tool_error(call_id, TOOL_FAILED)
        else:
            self._open_calls.discard(call_id)
            self.writer.tool_output_available(call_id, output)

    def _tool_error(self, call_id: str, text: str) -> None:
        self._open_calls.discard(call_id)
        self.writer.tool_output_error(call_id, text)

    async def _answer_approvals(self) -> None:
        """Continuation: run the approved calls of the continued message, deny the others."""
        for part in self.writer.message_parts():
            if part.get("state") != "approval-responded":
                continue
            call_id = str(part.get("toolCallId"))
            approval = part.get("approval") or {}
            tool = self.config.tools.get(tool_name_of(part) or "")
            if approval.get("approved") is not True:
                self.writer.tool_output_denied(call_id)
            elif tool is None:
                self.writer.tool_output_error(call_id, TOOL_FAILED)
            else:
                try:
                    args = tool.parse(part.get("input"))
                except ValueError as exc:
                    self.writer.tool_output_error(call_id, str(exc))
                    continue
                await self._execute(_Call(call_id, tool, args))
