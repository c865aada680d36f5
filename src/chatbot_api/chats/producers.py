"""The app's running turn producers: started detached from requests, finished on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger("chatbot_api.turn")


class TurnTasks:
    """Background tasks owned by the app (not by a request), so a client disconnect does not
    end them and shutdown can let them finish (then cancel the rest, which saves partials)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("turn task failed", task=task.get_name(), error=repr(task.exception()))

    async def shutdown(self, grace_seconds: float) -> None:
        """Wait up to `grace_seconds` for running turns, then cancel and await the rest."""
        if not self._tasks:
            return
        log.info("finishing running turns", count=len(self._tasks), grace=grace_seconds)
        pending = set(self._tasks)
        if grace_seconds > 0:
            _, pending = await asyncio.wait(pending, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
