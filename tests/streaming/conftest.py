"""Helpers for streaming tests: record a writer's bytes and assemble them with the real clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbot_api.streaming.accumulator import ProtocolVersion
from chatbot_api.streaming.writer import UIMessageWriter
from tests.conftest import run_node


class Recorder:
    """A writer whose sink keeps every event, and the client's view of those bytes."""

    def __init__(self, version: ProtocolVersion = 6, message: dict[str, Any] | None = None):
        self.events: list[bytes] = []
        self.message = message
        self.writer = UIMessageWriter(self.events.append, protocol_version=version, message=message)

    @property
    def body(self) -> bytes:
        return b"".join(self.events)

    def chunks(self) -> list[dict[str, Any]]:
        return [
            json.loads(event[len(b"data: ") :])
            for event in self.events
            if event != b"data: [DONE]\n\n"
        ]


def assemble(
    clients_dir: Path, tmp_path: Path, version: int, body: bytes, message: Any = None
) -> dict[str, Any]:
    """Run the real `readUIMessageStream` of ai@<version> (behind DefaultChatTransport)."""
    body_path = tmp_path / f"body-{version}.sse"
    body_path.write_bytes(body)
    args = [f"ai{version}", str(body_path)]
    if message is not None:
        message_path = tmp_path / f"message-{version}.json"
        message_path.write_text(json.dumps(message))
        args.append(str(message_path))
    result: dict[str, Any] = run_node(clients_dir, "assemble.mjs", *args)
    return result


def split_events(chunks: list[bytes]) -> list[bytes]:
    """The SSE events in a sequence of read chunks (a chunk may carry several whole events)."""
    body = b"".join(chunks)
    return [event + b"\n\n" for event in body.split(b"\n\n") if event]
