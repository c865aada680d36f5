"""Any OpenAI-compatible Chat Completions endpoint (AI Gateway, OpenAI, xAI, Ollama, vLLM, …)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

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
from chatbot_api.ai.providers.messages import openai_messages, parse_tool_args
from chatbot_api.ai.providers.sse import decode_event, drain, iter_sse_data
from chatbot_api.ai.providers.think import ThinkTagSplitter

ReasoningStyle = Literal["none", "gateway", "effort"]
# Chat Completions: images by URL or bytes; PDFs as `file` parts, by their bytes only.
INPUT_TYPES = InputTypes(
    data=frozenset({"image/*", "application/pdf"}), urls=frozenset({"image/*"})
)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "content_filter": "content-filter",
}


class _ToolCall:
    __slots__ = ("args", "id", "name", "started")

    def __init__(self, call_id: str, name: str) -> None:
        self.id = call_id
        self.name = name
        self.args: list[str] = []
        self.started = False


class ChatCompletionsParser:
    """Turns parsed Chat Completions chunks into events (appended to `out`)."""

    __slots__ = ("_calls", "_think", "done", "finish", "model", "usage")

    def __init__(self, think_tags: bool = True) -> None:
        self._think = ThinkTagSplitter() if think_tags else None
        self._calls: dict[int, _ToolCall] = {}
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.model: str | None = None  # the model that answered, as the chunks name it
        self.done = False

    def feed(self, chunk: dict[str, Any], out: list[ModelEvent], provider: str) -> None:
        error = chunk.get("error")
        if error:
            raise stream_error(provider, error)
        if self.model is None and isinstance(chunk.get("model"), str):
            self.model = chunk["model"] or None
        usage = chunk.get("usage")
        if usage:
            self.usage = _usage(usage)
        choices = chunk.get("choices")
        if not choices:
            return
        choice = choices[0]
        delta = choice.get("delta")
        if delta:
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                out.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if content:
                if self._think is not None:
                    self._think.feed(content, out)
                else:
                    out.append(TextDelta(content))
            tool_calls = delta.get("tool_calls")
            if tool_calls:
                self._tool_deltas(tool_calls, out)
        finish = choice.get("finish_reason")
        if finish:
            self.finish = finish

    def _tool_deltas(self, deltas: list[dict[str, Any]], out: list[ModelEvent]) -> None:
        for item in deltas:
            index = item.get("index", len(self._calls))
            function = item.get("function") or {}
            call = self._calls.get(index)
            if call is None:
                call_id = item.get("id") or f"call_{index}"
                call = self._calls[index] = _ToolCall(call_id, function.get("name") or "")
            elif not call.name and function.get("name"):
                call.name = function["name"]
            fragment = function.get("arguments")
            if fragment:
                call.args.append(fragment)
            if not call.started and call.name:
                call.started = True
                out.append(ToolCallStart(call.id, call.name))
                if call.args:
                    out.append(ToolCallDelta(call.id, "".join(call.args)))
            elif call.started and fragment:
                out.append(ToolCallDelta(call.id, fragment))

    def finish_step(self, out: list[ModelEvent]) -> None:
        """The step's closing events: buffered text, every tool call's end, StepFinish."""
        if self._think is not None:
            self._think.flush(out)
        for index in sorted(self._calls):
            call = self._calls[index]
            name = call.name or "unknown"
            raw = "".join(call.args)
            if not call.started:
                out.append(ToolCallStart(call.id, name))
                if raw:
                    out.append(ToolCallDelta(call.id, raw))
            value, problem = parse_tool_args(raw)
            out.append(ToolCallEnd(call.id, name, value, problem))
        reason = _FINISH.get(self.finish or "stop", "other")
        if self._calls and reason == "stop":
            reason = "tool-calls"
        out.append(StepFinish(reason, self.usage or Usage(), self.model))


def _usage(raw: dict[str, Any]) -> Usage:
    completion = raw.get("completion_tokens_details") or {}
    prompt = raw.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens"),
        cached_input_tokens=prompt.get("cached_tokens"),
    )


class OpenAICompatProvider:
    """Streams `POST {base_url}/chat/completions` and parses its SSE chunks once each."""

    input_types = INPUT_TYPES

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        api_key: str | None = None,
        *,
        name: str = "openai-compatible",
        idle_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        reasoning_style: ReasoningStyle = "none",
        max_tokens_field: str = "max_tokens",
        think_tags: bool = True,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._http = http
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._proxy = env_proxy(self._url)
        self._headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._headers.update(extra_headers or {})
        self._timeout = stream_timeout(idle_timeout, connect_timeout)
        self._reasoning_style = reasoning_style
        self._max_tokens_field = max_tokens_field
        self._think_tags = think_tags

    async def aclose(self) -> None:
        return None  # the shared HTTP client is closed by the app's lifespan

    def url_for(self, request: ModelRequest) -> str:
        """Where this request goes (once per request): `{base_url}/chat/completions`; a
        subclass whose URL names the model (Azure's deployments) overrides it."""
        return self._url

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        """The Chat Completions request body."""
        body: dict[str, Any] = {
            "model": request.model,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
        if request.max_output_tokens:
            body[self._max_tokens_field] = request.max_output_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.reasoning and self._reasoning_style == "gateway":
            body["reasoning"] = {"enabled": True, "max_tokens": request.reasoning_budget_tokens}
        elif request.reasoning and self._reasoning_style == "effort":
            body["reasoning_effort"] = "medium"
        body["messages"] = openai_messages(request)
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        parser = ChatCompletionsParser(self._think_tags)
        out: list[ModelEvent] = []
        try:
            async with post_stream(
                self._http,
                self.url_for(request),
                orjson.dumps(self.build_body(request)),
                headers=self._headers,
                limits=self._timeout,
                proxy=self._proxy,
                provider=self.name,
            ) as response:
                async with aclosing(iter_sse_data(response)) as events:
                    async for data in events:
                        if data == b"[DONE]":
                            parser.done = True
                            break
                        chunk = decode_event(data, self.name)
                        if chunk is None:
                            continue
                        parser.feed(chunk, out, self.name)
                        if out:
                            for event in out:
                                yield event
                            out.clear()
                if not parser.done and parser.finish is None:
                    raise ProviderError(
                        MSG_CLOSED, detail=f"{self.name}: stream ended without finishing"
                    )
                parser.finish_step(out)
                for event in out:
                    yield event
                # Only then (the consumer has the step's end): the body's tail, so that the
                # connection goes back to the pool rather than being closed.
                await drain(response)
        except aiohttp.ClientError as exc:
            raise transport_error(self.name, exc) from None
