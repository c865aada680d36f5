"""The stream log interface: every SSE event of a live turn, replayable from the start.

A producer (the chat turn) opens a log, appends encoded SSE events, and closes it. Readers
(the POST response, and `GET /api/chat/{id}/stream` on any worker) replay from the first
event and then tail until the log is closed. Implementations: in-process memory, and Redis
Streams (with expiry) so another worker can resume and stop a turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol


class StreamLog(Protocol):
    async def open(self, stream_id: str, chat_id: str | None) -> None:
        """Start a live log and make it the chat's active stream; with `chat_id=None`, only
        start it (its turn is not admitted yet): then `activate` or `discard` it."""

    def activate(self, stream_id: str, chat_id: str) -> None:
        """Make a log opened without a chat the chat's active stream. Never blocks: resumers
        on other workers find it within a few ms (Redis: with the next write)."""

    async def discard(self, stream_id: str) -> None:
        """Drop a log opened without a chat whose turn was refused: nothing of it stays."""

    def append(self, stream_id: str, event: bytes) -> None:
        """Add one encoded SSE event. Never blocks: local readers see it at once; a remote
        copy (Redis) may be written in small batches, flushed at least every few ms."""

    async def close(self, stream_id: str) -> None:
        """Flush, mark finished (readers end after the last event), keep for a short expiry."""

    def read(self, stream_id: str) -> AsyncIterator[bytes]:
        """The SSE bytes from the first event, then live ones until closed; ends at once if
        unknown. Each chunk holds one or more whole events (a reader that is behind gets all
        pending events at once)."""

    async def active_stream(self, chat_id: str) -> str | None:
        """The chat's live stream id, or None when nothing is live."""

    async def request_stop(self, stream_id: str) -> bool:
        """Ask the producer (on whatever worker) to stop. True if the stream was live."""

    def stop_requested(self, stream_id: str) -> AsyncIterator[None]:
        """Yields once when a stop was requested for this stream (used by the producer)."""

    def on_stop(self, stream_id: str, callback: Callable[[], None]) -> None:
        """Have `callback` called once, from the event loop, when a stop is requested for this
        live stream of this process (at once if one already was): the producer's stop
        watch without a task of its own."""

    async def aclose(self) -> None:
        """Release resources (flush tasks, Redis subscriptions)."""
