"""The stream log interface: every SSE event of a live turn, replayable from the start.

A producer (the chat turn) opens a log, appends encoded SSE events, and closes it. Readers
(the POST response, and `GET /api/chat/{id}/stream` on any worker) replay from the first
event and then tail until the log is closed. Implementations: in-process memory, and Redis
Streams, where another worker can resume and stop a turn, and ends (`Recovery`) the turn of a
worker that died.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

Recovery = Callable[[str, bytes, bytes], Awaitable[bytes]]
"""(stream id, the `meta` it was opened with, its events so far) → the chunks that end it:
how the turn's owner ends a turn whose worker died (and saves what it had)."""


class StreamLog(Protocol):
    async def start(self) -> None:
        """Start background work (heartbeats, recovery of dead workers' turns)."""

    async def open(self, stream_id: str, chat_id: str, meta: bytes) -> None:
        """Start a live log, the chat's active stream. `meta` is kept with it for `Recovery`.
        Never waits on a remote store: Redis gets it with the next batch of events."""

    def append(self, stream_id: str, event: bytes) -> None:
        """Add one encoded SSE event. Never blocks: local readers see it at once; a remote
        copy (Redis) may be written in small batches, flushed at least every few ms."""

    async def close(self, stream_id: str) -> None:
        """Flush, mark finished (readers end after the last event), keep for a short expiry."""

    def read(self, stream_id: str) -> AsyncIterator[bytes]:
        """The SSE bytes from the first event, then live ones until closed; ends at once if
        unknown. Each chunk holds one or more whole events (a reader that is behind gets all
        pending events at once). A stream that can no longer be read (its store is lost)
        ends with an error and a balanced end."""

    async def active_stream(self, chat_id: str) -> str | None:
        """The chat's live stream id, or None when nothing is live (or cannot be known)."""

    async def request_stop(self, stream_id: str) -> bool:
        """Ask the producer (on whatever worker) to stop. True if the stream was live."""

    def on_stop(self, stream_id: str, callback: Callable[[], None]) -> None:
        """Have `callback` called once, from the event loop, when a stop is requested for this
        live stream of this process (at once if one already was)."""

    async def aclose(self) -> None:
        """Release resources (flush tasks, Redis subscriptions)."""
