"""The Anthropic Messages API, streamed: text, tool use and extended thinking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import orjson

from chatbot_api.ai.base import (
    FinishReason,
    InputTypes,
    ModelEvent,
    ModelRequest,
    ProviderError,
    ReasoningDelta,
    StepFinish,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from chatbot_api.ai.providers.errors import MSG_CLOSED, stream_error, transport_error
from chatbot_api.ai.providers.http import env_proxy, post_stream, stream_timeout
from chatbot_api.ai.providers.messages import anthropic_messages, parse_tool_args
from chatbot_api.ai.providers.sse import decode_event, drain, iter_sse_data

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192
MIN_ANSWER_TOKENS = 1024  # room left for the answer beyond the thinking budget

# Messages: images and PDFs (`document` blocks), by their bytes or by URL.
INPUT_TYPES = InputTypes(
    data=frozenset({"image/*", "application/pdf"}),
    urls=frozenset({"image/*", "application/pdf"}),
)

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
}


class MessagesParser:
    """Turns parsed Messages stream events into our events (appended to `out`)."""

    __slots__ = ("_tools", "_uncached_input", "finished", "model", "stop_reason", "usage")

    def __init__(self) -> None:
        self._tools: dict[int, list[Any]] = {}  # block index -> [id, name, [fragments]]
        self.usage = Usage()
        self.model: str | None = None
        self._uncached_input = 0
        self.stop_reason: str | None = None
        self.finished = False

    def feed(self, event: dict[str, Any], out: list[ModelEvent], provider: str) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                out.append(TextDelta(delta["text"]))
            elif delta_type == "thinking_delta":
                out.append(ReasoningDelta(delta["thinking"]))
            elif delta_type == "input_json_delta":
                tool = self._tools.get(event.get("index", -1))
                fragment = delta.get("partial_json") or ""
                if tool is not None and fragment:
                    tool[2].append(fragment)
                    out.append(ToolCallDelta(tool[0], fragment))
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._tools[event.get("index", -1)] = [block["id"], block["name"], []]
                out.append(ToolCallStart(block["id"], block["name"]))
        elif kind == "content_block_stop":
            tool = self._tools.pop(event.get("index", -1), None)
            if tool is not None:
                value, problem = parse_tool_args("".join(tool[2]))
                out.append(ToolCallEnd(tool[0], tool[1], value, problem))
        else:
            self._message_event(kind, event, out, provider)

    def _message_event(
        self, kind: Any, event: dict[str, Any], out: list[ModelEvent], provider: str
    ) -> None:
        if kind == "message_start":
            message = event.get("message") or {}
            model = message.get("model")
            self.model = model if isinstance(model, str) and model else None
            self._take_usage(message.get("usage") or {})
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self._take_usage(event.get("usage") or {})
        elif kind == "message_stop":
            self.finished = True
            reason = _STOP.get(self.stop_reason or "end_turn", "other")
            out.append(StepFinish(reason, self.usage, self.model))
        elif kind == "error":
            raise stream_error(provider, event.get("error"))

    def _take_usage(self, raw: dict[str, Any]) -> None:
        """`message_start`'s usage, then `message_delta`'s (cumulative: a field it repeats
        replaces the earlier one). Our input counts every input token: Anthropic's
        `input_tokens` leaves out those read from and written to the prompt cache."""
        usage = self.usage
        if raw.get("output_tokens") is not None:
            usage.output_tokens = raw["output_tokens"]
        if raw.get("cache_read_input_tokens") is not None:
            usage.cached_input_tokens = raw["cache_read_input_tokens"]
        if raw.get("cache_creation_input_tokens") is not None:
            usage.cache_write_input_tokens = raw["cache_creation_input_tokens"]
        if raw.get("input_tokens") is not None:
            self._uncached_input = int(raw["input_tokens"])
        usage.input_tokens = (
            self._uncached_input
            + (usage.cached_input_tokens or 0)
            + (usage.cache_write_input_tokens or 0)
        )


class AnthropicProvider:
    """Streams `POST {base_url}/messages` with `x-api-key` and `anthropic-version`."""

    input_types = INPUT_TYPES

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        *,
        name: str = "anthropic",
        idle_timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._http = http
        self._url = base_url.rstrip("/") + "/messages"
        self._proxy = env_proxy(self._url)
        self._headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "x-api-key": api_key,
            "anthropic-version": ANTHROPIC_VERSION,
        }
        # connect: a pooled connection or a new one (pool wait included); sock_read: the
        # longest silence from the upstream, from the request's end to the body's end.
        self._timeout = stream_timeout(idle_timeout, connect_timeout)

    async def aclose(self) -> None:
        return None  # the shared HTTP client is closed by the app's lifespan

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        max_tokens = request.max_output_tokens or DEFAULT_MAX_TOKENS
        body: dict[str, Any] = {
            "model": request.model,
            "messages": anthropic_messages(request),
            "max_tokens": max_tokens,
            "stream": True,
        }
        if request.system:
            body["system"] = request.system
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        if request.reasoning:
            budget = request.reasoning_budget_tokens
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            body["max_tokens"] = max(max_tokens, budget + MIN_ANSWER_TOKENS)
        elif request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        parser = MessagesParser()
        out: list[ModelEvent] = []
        content = orjson.dumps(self.build_body(request))
        try:
            async with post_stream(
                self._http,
                self._url,
                content,
                headers=self._headers,
                limits=self._timeout,
                proxy=self._proxy,
                provider=self.name,
            ) as response:
                async with aclosing(iter_sse_data(response)) as events:
                    async for data in events:
                        event = decode_event(data, self.name)
                        if event is None:
                            continue
                        parser.feed(event, out, self.name)
                        if out:
                            for item in out:
                                yield item
                            out.clear()
                        if parser.finished:
                            break
                if parser.finished:
                    # The consumer has the step's end: read the body's tail, so that the
                    # connection goes back to the pool rather than being closed.
                    await drain(response)
        except aiohttp.ClientError as exc:
            raise transport_error(self.name, exc) from None
        if not parser.finished:
            raise ProviderError(MSG_CLOSED, detail=f"{self.name}: stream ended before message_stop")
