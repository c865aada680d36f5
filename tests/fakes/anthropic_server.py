"""A fake Anthropic `/v1/messages` upstream streaming real Messages API SSE events.

with FakeAnthropicServer() as server:
    server.queue(messages_reply([text_block(["Hi ", "there"])], stop_reason="end_turn"))
    provider = AnthropicProvider(http, server.base_url, "key")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from tests.fakes.http import Handler, RecordedRequest, Reply, json_reply
from tests.fakes.openai_server import KeepAliveServer

Block = tuple[str, dict[str, Any], list[dict[str, Any]]]  # type, start block, deltas


def text_block(pieces: Iterable[str]) -> Block:
    deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
    return ("text", {"type": "text", "text": ""}, deltas)


def thinking_block(pieces: Iterable[str]) -> Block:
    deltas: list[dict[str, Any]] = [{"type": "thinking_delta", "thinking": p} for p in pieces]
    deltas.append({"type": "signature_delta", "signature": "sig-fake"})
    return ("thinking", {"type": "thinking", "thinking": ""}, deltas)


def tool_use_block(call_id: str, name: str, fragments: Iterable[str]) -> Block:
    deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
    return ("tool_use", {"type": "tool_use", "id": call_id, "name": name, "input": {}}, deltas)


def message_events(
    blocks: Iterable[Block],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 34,
    cache_read: int | None = None,
    cache_creation: int | None = None,
    ping: bool = True,
) -> list[dict[str, Any]]:
    """message_start, (ping), each block's start/deltas/stop, message_delta, message_stop."""
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                "model": "claude-fake", "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        }
    ]  # fmt: skip
    start_usage = events[0]["message"]["usage"]
    if cache_read is not None:
        start_usage["cache_read_input_tokens"] = cache_read
    if cache_creation is not None:
        start_usage["cache_creation_input_tokens"] = cache_creation
    if ping:
        events.append({"type": "ping"})
    for index, (_, start, deltas) in enumerate(blocks):
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        }
    )
    events.append({"type": "message_stop"})
    return events


def encode(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    ]


def messages_reply(blocks: Iterable[Block], **options: Any) -> Reply:
    """A 200 stream of one message; options go to message_events, or Reply (delay, …)."""
    reply_keys = {"delay", "first_delay", "drop_after", "stall_after", "stall_seconds"}
    reply_options = {k: options.pop(k) for k in list(options) if k in reply_keys}
    return Reply(chunks=encode(message_events(blocks, **options)), **reply_options)


def events_reply(events: Iterable[dict[str, Any]], **options: Any) -> Reply:
    return Reply(chunks=encode(events), **options)


def error_reply(status: int, error_type: str, message: str) -> Reply:
    return json_reply(status, {"type": "error", "error": {"type": error_type, "message": message}})


def _default_reply(request: RecordedRequest) -> Reply:
    if request.method != "POST" or request.path.rstrip("/") != "/v1/messages":
        return error_reply(404, "not_found_error", "Not found")
    return messages_reply([text_block(["Hello ", "from ", "the ", "fake ", "server."])])


class FakeAnthropicServer(KeepAliveServer):
    """An Anthropic Messages upstream; `base_url` ends in `/v1` like the real one. Keeps its
    connections alive between whole replies; `connections` counts them."""

    def __init__(self, default: Handler | Reply | None = None) -> None:
        super().__init__(default or _default_reply)

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"
