"""What a turn runs on: `TurnDeps` (the app's resources, built once in the lifespan) and
`Turns`, the app's running turns: started detached from their requests, drained on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.ai.registry import ModelRegistry
from chatbot_api.chats.turn.admission import Admission
from chatbot_api.core.config import Settings
from chatbot_api.files.storage import Storage
from chatbot_api.streaming.log import StreamLog

if TYPE_CHECKING:
    from chatbot_api.chats.turn.replies import ReplySaver

log = structlog.get_logger("chatbot_api.turn")


class Interruptible(Protocol):
    """A running turn, as the drain sees it."""

    def interrupt(self, why: str) -> None: ...


class Turns:
    """The app's running turns (and their helper tasks: titles, late saves), owned by the app
    rather than a request, so a client that leaves does not end them. `drain` ends them on
    shutdown, within a bound: new turns are refused from its start."""

    def __init__(self) -> None:
        self._turns: dict[asyncio.Task[Any], Interruptible] = {}
        self._helpers: set[asyncio.Task[Any]] = set()
        self.draining = False

    def __len__(self) -> int:
        return len(self._turns)

    def start(self, turn: Interruptible, run: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(run, name=name)
        self._turns[task] = turn
        task.add_done_callback(self._turn_done)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """A helper task of a turn (shutdown waits for it too)."""
        task = asyncio.create_task(coro, name=name)
        self._helpers.add(task)
        task.add_done_callback(self._helper_done)
        return task

    def _turn_done(self, task: asyncio.Task[Any]) -> None:
        self._turns.pop(task, None)
        _log_failure(task)

    def _helper_done(self, task: asyncio.Task[Any]) -> None:
        self._helpers.discard(task)
        _log_failure(task)

    async def drain(self, grace: float, skip_wait: asyncio.Event | None = None) -> None:
        """Refuse new turns; give running ones `grace` seconds to finish (or less, once
        `skip_wait` is set); then interrupt the rest (they end their streams and save what
        they have) and wait for them and their helpers to be done."""
        self.draining = True
        if self._turns:
            log.info("finishing running turns", turns=len(self._turns), grace=grace)
            await _wait_any(set(self._turns), grace, skip_wait)
        for task, turn in list(self._turns.items()):
            if not task.done():
                turn.interrupt("shutdown")
        pending = set(self._turns) | self._helpers
        if pending:
            await asyncio.wait(pending, timeout=SAVE_SECONDS)
        for task in set(self._turns) | self._helpers:
            task.cancel()


SAVE_SECONDS = 10.0  # after the grace: the longest interrupted turns get to end and save


async def _wait_any(
    tasks: set[asyncio.Task[Any]], seconds: float, skip_wait: asyncio.Event | None
) -> None:
    """Until the tasks are done, `seconds` have passed, or `skip_wait` is set."""
    waiters: set[asyncio.Future[Any]] = set(tasks)
    skip: asyncio.Task[Any] | None = None
    if skip_wait is not None:
        skip = asyncio.create_task(skip_wait.wait())
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while waiters and (skip is None or not skip.done()):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            watch = waiters | ({skip} if skip is not None else set())
            done, _ = await asyncio.wait(watch, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            waiters -= done
    finally:
        if skip is not None:
            skip.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await skip


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("turn task failed", task=task.get_name(), error=repr(task.exception()))


@dataclass(frozen=True, slots=True)
class TurnDeps:
    """The app resources a turn uses, built once in the lifespan."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    models: ModelRegistry
    stream_log: StreamLog
    http: httpx.AsyncClient
    turns: Turns
    admission: Admission
    replies: ReplySaver
    storage: Storage | None = None  # where our own upload URLs are read (attachments)
