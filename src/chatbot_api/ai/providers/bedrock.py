"""AWS Bedrock's Converse API, streamed (`converse-stream`): SigV4-signed requests, the binary
event stream read frame by frame, text, tool use and reasoning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import botocore.session
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError
from yarl import URL

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
from chatbot_api.ai.providers.bedrock_messages import converse_messages
from chatbot_api.ai.providers.errors import (
    DETAIL_MAX_CHARS,
    MSG_CLOSED,
    MSG_FAILED,
    MSG_MALFORMED,
    message_for_status,
    transport_error,
)
from chatbot_api.ai.providers.eventstream import EventStreamDecoder, Headers
from chatbot_api.ai.providers.http import env_proxy, post_stream, stream_timeout
from chatbot_api.ai.providers.messages import parse_tool_args
from chatbot_api.ai.providers.sse import drain
from chatbot_api.core.config import ConfigError

SERVICE = "bedrock"  # the SigV4 signing name of bedrock-runtime
MIN_ANSWER_TOKENS = 1024  # room left for the answer beyond the thinking budget
DEFAULT_THINKING_MAX_TOKENS = 8192

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool-calls",
    "guardrail_intervened": "content-filter",
    "content_filtered": "content-filter",
}
# ConverseStream's exception events, by the HTTP status the same error has outside a stream.
_EXCEPTIONS = {
    "internalServerException": 500,
    "modelStreamErrorException": 424,
    "validationException": 400,
    "throttlingException": 429,
    "serviceUnavailableException": 503,
}


def endpoint_for(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


class ConverseStreamParser:
    """Turns ConverseStream events (event type, JSON payload) into ours (appended to `out`).
    The step ends with `metadata` (usage), which AWS sends after `messageStop`."""

    __slots__ = ("_tools", "finished", "stop_reason", "usage")

    def __init__(self) -> None:
        self._tools: dict[int, list[Any]] = {}  # block index -> [id, name, [fragments]]
        self.stop_reason: str | None = None
        self.usage = Usage()
        self.finished = False

    def feed(self, kind: str | None, event: dict[str, Any], out: list[ModelEvent]) -> None:
        if kind == "contentBlockDelta":
            delta = event.get("delta") or {}
            text = delta.get("text")
            if text is not None:
                if text:
                    out.append(TextDelta(text))
            elif "toolUse" in delta:
                tool = self._tools.get(event.get("contentBlockIndex", -1))
                fragment = delta["toolUse"].get("input") or ""
                if tool is not None and fragment:
                    tool[2].append(fragment)
                    out.append(ToolCallDelta(tool[0], fragment))
            elif "reasoningContent" in delta:
                reasoning = delta["reasoningContent"].get("text")  # or a signature: not shown
                if reasoning:
                    out.append(ReasoningDelta(reasoning))
        elif kind == "contentBlockStart":
            tool_use = (event.get("start") or {}).get("toolUse")
            if tool_use:
                call = [tool_use["toolUseId"], tool_use["name"], []]
                self._tools[event.get("contentBlockIndex", -1)] = call
                out.append(ToolCallStart(call[0], call[1]))
        elif kind == "contentBlockStop":
            self._end_tool(event.get("contentBlockIndex", -1), out)
        elif kind == "messageStop":
            self.stop_reason = event.get("stopReason") or "end_turn"
            for index in sorted(self._tools):  # a block AWS left open
                self._end_tool(index, out)
        elif kind == "metadata":
            self.usage = _usage(event.get("usage") or {})
            if self.stop_reason is not None:
                self.finish(out)

    def _end_tool(self, index: int, out: list[ModelEvent]) -> None:
        tool = self._tools.pop(index, None)
        if tool is not None:
            value, problem = parse_tool_args("".join(tool[2]))
            out.append(ToolCallEnd(tool[0], tool[1], value, problem))

    def finish(self, out: list[ModelEvent]) -> None:
        self.finished = True
        out.append(StepFinish(_STOP.get(self.stop_reason or "end_turn", "other"), self.usage))


def _usage(raw: dict[str, Any]) -> Usage:
    """`inputTokens` leaves out the prompt-cache reads and writes: ours counts the whole input."""
    cached = raw.get("cacheReadInputTokens")
    written = raw.get("cacheWriteInputTokens") or 0
    return Usage(
        input_tokens=(raw.get("inputTokens") or 0) + (cached or 0) + written,
        output_tokens=raw.get("outputTokens") or 0,
        cached_input_tokens=cached,
    )


def exception_error(provider: str, headers: Headers, payload: bytes) -> ProviderError:
    """An `exception` (or `error`) frame: the public message by the exception's status."""
    kind = headers.get(":exception-type") or headers.get(":error-code") or "unknown"
    text = headers.get(":error-message") or payload[:DETAIL_MAX_CHARS].decode("utf-8", "replace")
    status = _EXCEPTIONS.get(kind)
    message = message_for_status(status) if status is not None and status != 424 else MSG_FAILED
    return ProviderError(message, detail=f"{provider}: {kind}: {text}", status=status)


class AwsSigner:
    """SigV4 headers for one request, from credentials resolved once by botocore's chain;
    refreshable ones (roles, SSO, …) are refreshed off the event loop when they are due."""

    __slots__ = ("_credentials", "region")

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._credentials = credentials
        self.region = region

    async def headers(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        credentials = self._credentials
        if isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed():
            frozen = await asyncio.to_thread(credentials.get_frozen_credentials)
        else:
            frozen = credentials.get_frozen_credentials()
        aws = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(frozen, SERVICE, self.region).add_auth(aws)
        return dict(aws.headers.items())


class BedrockProvider:
    """Streams `POST {endpoint}/model/{modelId}/converse-stream`, signed with SigV4."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        signer: AwsSigner,
        *,
        endpoint_url: str | None = None,
        name: str = "bedrock",
        idle_timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._http = http
        self._signer = signer
        self._endpoint = (endpoint_url or endpoint_for(signer.region)).rstrip("/")
        self._proxy = env_proxy(self._endpoint)
        self._headers = {
            "content-type": "application/json",
            "accept": "application/vnd.amazon.eventstream",
        }
        # connect: a pooled connection or a new one (pool wait included); sock_read: the
        # longest silence from the upstream, from the request's end to the body's end.
        self._timeout = stream_timeout(idle_timeout, connect_timeout)

    async def aclose(self) -> None:
        return None  # the shared HTTP client is closed by the app's lifespan

    def url_for(self, model: str) -> str:
        """The model id percent-encoded as one path segment (`:` → `%3A`), as AWS's SDKs send
        it (and sign it, encoded once more, in the canonical request)."""
        return f"{self._endpoint}/model/{quote(model, safe='')}/converse-stream"

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        """The Converse request body (the model id travels in the URL)."""
        body: dict[str, Any] = {"messages": converse_messages(request, self.name)}
        if request.system:
            body["system"] = [{"text": request.system}]
        config: dict[str, Any] = {}
        if request.max_output_tokens:
            config["maxTokens"] = request.max_output_tokens
        if request.reasoning:
            budget = request.reasoning_budget_tokens
            body["additionalModelRequestFields"] = {
                "thinking": {"type": "enabled", "budget_tokens": budget}
            }
            wanted = request.max_output_tokens or DEFAULT_THINKING_MAX_TOKENS
            config["maxTokens"] = max(wanted, budget + MIN_ANSWER_TOKENS)
        elif request.temperature is not None:
            config["temperature"] = request.temperature
        if config:
            body["inferenceConfig"] = config
        if request.tools:
            body["toolConfig"] = {
                "tools": [
                    {"toolSpec": {"name": t.name, "description": t.description,
                                  "inputSchema": {"json": t.parameters}}}
                    for t in request.tools
                ]
            }  # fmt: skip
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        content = orjson.dumps(self.build_body(request))
        url = self.url_for(request.model)
        headers = await self._signer.headers(url, content, self._headers)
        parser = ConverseStreamParser()
        decoder = EventStreamDecoder(self.name)
        out: list[ModelEvent] = []
        try:
            async with post_stream(
                self._http,
                URL(url, encoded=True),  # keep `%3A`: the signature covers the path as sent
                content,
                headers=headers,
                limits=self._timeout,
                proxy=self._proxy,
                provider=self.name,
            ) as response:
                readany = response.content.readany
                while not parser.finished and (chunk := await readany()):
                    error: ProviderError | None = None
                    for frame_headers, payload in decoder.feed(chunk):
                        try:
                            self._frame(parser, frame_headers, payload, out)
                        except ProviderError as exc:
                            error = exc
                            break
                        if parser.finished:
                            break
                    if out:  # what came before a failure is delivered first
                        for event in out:
                            yield event
                        out.clear()
                    if error is not None or (error := decoder.error) is not None:
                        raise error
                if not parser.finished:
                    decoder.finish()
                    if parser.stop_reason is None:
                        raise ProviderError(
                            MSG_CLOSED, detail=f"{self.name}: stream ended before messageStop"
                        )
                    parser.finish(out)  # no metadata frame: a step without usage
                    for event in out:
                        yield event
                # The consumer has the step's end: read the body's tail, so that the
                # connection goes back to the pool rather than being closed.
                await drain(response)
        except aiohttp.ClientError as exc:
            raise transport_error(self.name, exc) from None

    def _frame(
        self,
        parser: ConverseStreamParser,
        headers: Headers,
        payload: bytes,
        out: list[ModelEvent],
    ) -> None:
        if headers.get(":message-type", "event") != "event":
            raise exception_error(self.name, headers, payload)
        try:
            event = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            snippet = payload[:200].decode("utf-8", "replace")
            raise ProviderError(
                MSG_MALFORMED, detail=f"{self.name}: an event is not JSON: {snippet!r}"
            ) from None
        if not isinstance(event, dict):
            raise ProviderError(MSG_MALFORMED, detail=f"{self.name}: an event is not an object")
        parser.feed(headers.get(":event-type"), event, out)


def load_signer(region: str) -> AwsSigner:
    """The signer from botocore's default credential chain (environment, profiles, SSO,
    container and instance roles), resolved once at start; none found is a ConfigError."""
    try:
        credentials = botocore.session.get_session().get_credentials()
    except BotoCoreError as exc:
        raise ConfigError(f"BEDROCK_REGION is set but AWS credentials did not load: {exc}") from exc
    if credentials is None:
        raise ConfigError(
            "BEDROCK_REGION is set but no AWS credentials were found (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance/container role)"
        )
    return AwsSigner(credentials, region)
