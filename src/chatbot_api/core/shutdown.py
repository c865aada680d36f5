"""Shutting down on a signal: under uvicorn, SIGTERM or SIGINT first has the app drain its
work (new work refused, readiness 503, running work given its grace), and only then reaches
uvicorn, which stops; a second signal cuts the wait short. Without this, uvicorn waits for
every open response (a streaming reply) before the app hears of the shutdown at all."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Drain = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""The app's drain; a second signal sets the event it is given (finish now, skip the wait)."""
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(slots=True)
class Lifecycle:
    """What the app's routes read of its lifecycle: whether it is draining for shutdown."""

    draining: bool = False


def drain_on_signals(drain: Drain) -> Callable[[], None]:
    """Put `drain` before uvicorn's own SIGTERM/SIGINT handling (when uvicorn's handlers are
    the ones installed, i.e. the app is served by uvicorn in this process's main thread);
    returns the function that puts uvicorn's handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return _nothing
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    if not all(_is_uvicorns(handler) for handler in previous.values()):
        return _nothing
    loop = asyncio.get_running_loop()
    skip_wait = asyncio.Event()
    draining: list[asyncio.Task[None]] = []

    def on_signal(sig: int) -> None:
        if draining:
            log.info("second signal: finishing now", signal=signal.Signals(sig).name)
            skip_wait.set()
            return
        log.info("shutting down: draining", signal=signal.Signals(sig).name)
        task = loop.create_task(drain(skip_wait), name="drain")
        task.add_done_callback(lambda _: previous[sig](sig, None))  # then uvicorn's
        draining.append(task)

    def handle(sig: int, _frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(on_signal, sig)

    for sig in _SIGNALS:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _is_uvicorns(handler: Any) -> bool:
    import uvicorn

    return getattr(handler, "__func__", None) is uvicorn.Server.handle_exit


def _nothing() -> None:
    return None
