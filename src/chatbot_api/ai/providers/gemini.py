"""The Google Gemini API (Generative Language, v1beta), streamed: text, thoughts, function calls."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from chatbot_api.ai.base import (
    FinishReason,
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
from chatbot_api.ai.providers.errors import (
    MSG_CLOSED,
    MSG_CREDENTIALS,
    MSG_MALFORMED,
    stream_error,
    transport_error,
)
from chatbot_api.ai.providers.gemini_request import gemini_contents, gemini_tools
from chatbot_api.ai.providers.http import env_proxy, post_stream, stream_timeout
from chatbot_api.ai.providers.sse import decode_event, drain, iter_sse_data

MIN_ANSWER_TOKENS = 1024  # room left for the answer beyond the thinking budget
SIGNATURES_KEPT = 4096  # thought signatures remembered for the calls made here (by call id)

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content-filter",
    "RECITATION": "content-filter",
    "BLOCKLIST": "content-filter",
    "PROHIBITED_CONTENT": "content-filter",
    "SPII": "content-filter",
    "IMAGE_SAFETY": "content-filter",
    "MALFORMED_FUNCTION_CALL": "error",
}
_BLOCKED = "BLOCKED"  # our marker: the prompt was blocked (promptFeedback.blockReason)


class GenerateContentParser:
    """Turns parsed GenerateContentResponse chunks into our events (appended to `out`).

    Gemini sends each function call whole and without an id: each gets a fresh one here,
    and its thought signature (if any) is handed to `remember` for the next request."""

    __slots__ = ("_calls", "_remember", "finish_reason", "usage")

    def __init__(self, remember: Callable[[str, str], None] | None = None) -> None:
        self._calls = 0
        self._remember = remember
        self.usage = Usage()
        self.finish_reason: str | None = None

    def feed(self, event: Any, out: list[ModelEvent], provider: str) -> bool:
        """Parse one chunk; True when it carried usage (the last chunk always does)."""
        if not isinstance(event, dict):
            raise ValueError("a chunk is not an object")
        if event.get("error") is not None:
            raise stream_error(provider, event["error"])
        candidates = event.get("candidates") or []
        if candidates:
            candidate = candidates[0]
            for part in (candidate.get("content") or {}).get("parts") or []:
                self._part(part, out)
            if candidate.get("finishReason"):
                self.finish_reason = candidate["finishReason"]
        elif (event.get("promptFeedback") or {}).get("blockReason"):
            self.finish_reason = _BLOCKED
        metadata = event.get("usageMetadata")
        if metadata:
            self.usage = _usage(metadata)
        return bool(metadata)

    def _part(self, part: dict[str, Any], out: list[ModelEvent]) -> None:
        text = part.get("text")
        if text:
            out.append(ReasoningDelta(text) if part.get("thought") else TextDelta(text))
            return
        call = part.get("functionCall")
        if call is None:
            return  # a bare thought signature, executable code, …
        self._calls += 1
        upstream_id = call.get("id")
        call_id = upstream_id if isinstance(upstream_id, str) and upstream_id else _new_id()
        name = call["name"]
        args = call.get("args") or {}
        out.append(ToolCallStart(call_id, name))
        out.append(ToolCallDelta(call_id, orjson.dumps(args).decode()))
        out.append(ToolCallEnd(call_id, name, args))
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and self._remember is not None:
            self._remember(call_id, signature)

    def step_finish(self) -> StepFinish:
        reason = self.finish_reason or "STOP"
        if reason == _BLOCKED:
            return StepFinish("content-filter", self.usage)
        finish = _FINISH.get(reason, "other")
        if finish == "stop" and self._calls:
            finish = "tool-calls"
        return StepFinish(finish, self.usage)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _usage(metadata: dict[str, Any]) -> Usage:
    """Output tokens include the thoughts (as OpenAI's and Anthropic's do); input tokens
    include the cached ones."""
    thoughts = metadata.get("thoughtsTokenCount")
    return Usage(
        input_tokens=(metadata.get("promptTokenCount") or 0)
        + (metadata.get("toolUsePromptTokenCount") or 0),
        output_tokens=(metadata.get("candidatesTokenCount") or 0) + (thoughts or 0),
        reasoning_tokens=thoughts,
        cached_input_tokens=metadata.get("cachedContentTokenCount"),
    )


class GeminiProvider:
    """Streams `POST {base_url}/models/{model}:streamGenerateContent?alt=sse` with
    `x-goog-api-key`."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        *,
        name: str = "google",
        idle_timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._http = http
        self._base = base_url.rstrip("/")
        self._proxy = env_proxy(self._base + "/models")
        self._headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "x-goog-api-key": api_key,
        }
        self._timeout = stream_timeout(idle_timeout, connect_timeout)
        # Gemini 3 wants each replayed function call's thought signature back: those of the
        # calls made through this provider (the steps of a turn), the newest kept.
        self._signatures: OrderedDict[str, str] = OrderedDict()

    async def aclose(self) -> None:
        return None  # the shared HTTP client is closed by the app's lifespan

    def url(self, model: str) -> str:
        name = quote(model.removeprefix("models/"), safe="-._")
        return f"{self._base}/models/{name}:streamGenerateContent?alt=sse"

    def _remember(self, call_id: str, signature: str) -> None:
        self._signatures[call_id] = signature
        if len(self._signatures) > SIGNATURES_KEPT:
            self._signatures.popitem(last=False)

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"contents": gemini_contents(request, self._signatures.get)}
        if request.system:
            body["systemInstruction"] = {"parts": [{"text": request.system}]}
        if request.tools:
            body["tools"] = gemini_tools(request.tools)
        config: dict[str, Any] = {}
        if request.max_output_tokens is not None:
            config["maxOutputTokens"] = request.max_output_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.reasoning:
            budget = request.reasoning_budget_tokens
            config["thinkingConfig"] = {"includeThoughts": True, "thinkingBudget": budget}
            if request.max_output_tokens is not None:  # thoughts count against the limit
                config["maxOutputTokens"] = max(
                    request.max_output_tokens, budget + MIN_ANSWER_TOKENS
                )
        if config:
            body["generationConfig"] = config
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        parser = GenerateContentParser(self._remember)
        out: list[ModelEvent] = []
        content = orjson.dumps(self.build_body(request))
        ended = False
        try:
            async with post_stream(
                self._http,
                self.url(request.model),
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
                        has_usage = self._feed(parser, event, out)
                        if out:
                            for item in out:
                                yield item
                            out.clear()
                        if has_usage and parser.finish_reason is not None:
                            ended = True
                            yield parser.step_finish()
                            break
                if ended:
                    await drain(response)  # back to the pool rather than closed
        except aiohttp.ClientError as exc:
            raise transport_error(self.name, exc) from None
        except ProviderError as exc:
            raise _credentials(exc) from None
        if ended:
            return
        if parser.finish_reason is None:
            raise ProviderError(MSG_CLOSED, detail=f"{self.name}: stream ended before finishReason")
        yield parser.step_finish()  # a finish without usage, then the body's end

    def _feed(self, parser: GenerateContentParser, event: Any, out: list[ModelEvent]) -> bool:
        try:
            return parser.feed(event, out, self.name)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            snippet = orjson.dumps(event)[:200].decode("utf-8", "replace")
            raise ProviderError(
                MSG_MALFORMED, detail=f"{self.name}: unreadable chunk: {snippet}"
            ) from None


def _credentials(exc: ProviderError) -> ProviderError:
    """Google answers a bad API key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID)."""
    if exc.status == 400 and "API_KEY_INVALID" in exc.detail:
        return ProviderError(MSG_CREDENTIALS, detail=exc.detail, status=401)
    return exc
