"""A fake Gemini API (`/v1beta/models/{model}:streamGenerateContent?alt=sse`) streaming real
GenerateContentResponse chunks, framed as Google frames them (`data: {...}\\r\\n\\r\\n`).

with FakeGeminiServer() as server:
    server.queue(gemini_reply([text("Hi "), text("there")]))
    provider = GeminiProvider(http, server.base_url, "key")
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from tests.fakes.http import Handler, RecordedRequest, Reply, json_reply
from tests.fakes.openai_server import KeepAliveServer

MODEL_VERSION = "gemini-2.5-flash-lite"
API_KEY_HEADER = "x-goog-api-key"
PATH = re.compile(r"^/v1beta/models/(?P<model>[A-Za-z0-9._-]+):streamGenerateContent\?alt=sse$")
REPLY_OPTIONS = {"delay", "first_delay", "drop_after", "stall_after", "stall_seconds"}


# --- parts and chunks ---------------------------------------------------------------------
def text(value: str, *, signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"text": value}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def thought(value: str) -> dict[str, Any]:
    return {"text": value, "thought": True}


def function_call(
    name: str, args: dict[str, Any], *, signature: str | None = None
) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def usage(
    prompt: int = 12,
    candidates: int | None = 34,
    *,
    thoughts: int | None = None,
    cached: int | None = None,
) -> dict[str, Any]:
    """`usageMetadata` as Google reports it (totalTokenCount included)."""
    metadata: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates is not None:
        metadata["candidatesTokenCount"] = candidates
    metadata["totalTokenCount"] = prompt + (candidates or 0) + (thoughts or 0)
    if cached is not None:
        metadata["cachedContentTokenCount"] = cached
        metadata["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if thoughts is not None:
        metadata["thoughtsTokenCount"] = thoughts
    metadata["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return metadata


def chunk(
    parts: list[dict[str, Any]],
    *,
    finish: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One GenerateContentResponse with one candidate."""
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    response: dict[str, Any] = {"candidates": [candidate]}
    if metadata is not None:
        response["usageMetadata"] = metadata
    response["modelVersion"] = MODEL_VERSION
    response["responseId"] = "fake-response-id"
    return response


def response_chunks(
    parts: Iterable[dict[str, Any]],
    *,
    finish: str = "STOP",
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A part a chunk, like Google's stream; each chunk carries the prompt's usage so far, the
    last one the finishReason and the whole usage."""
    whole = metadata if metadata is not None else usage()
    so_far = {"promptTokenCount": whole["promptTokenCount"],
              "totalTokenCount": whole["promptTokenCount"]}  # fmt: skip
    items = list(parts)
    chunks = [chunk([part], metadata=so_far) for part in items[:-1]]
    chunks.append(chunk(items[-1:], finish=finish, metadata=whole))
    return chunks


def blocked_prompt(reason: str = "SAFETY") -> dict[str, Any]:
    """The only chunk Google sends when it refuses the prompt itself."""
    return {
        "promptFeedback": {"blockReason": reason, "safetyRatings": []},
        "usageMetadata": usage(9, None),
        "modelVersion": MODEL_VERSION,
        "responseId": "fake-response-id",
    }


def error_body(code: int, message: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """Google's error JSON (`google.rpc.Status` in an `error` envelope)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason is not None:
        service = {"service": "generativelanguage.googleapis.com"}
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
             "domain": "googleapis.com", "metadata": service}
        ]  # fmt: skip
    return {"error": error}


# --- replies ------------------------------------------------------------------------------
def encode(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [b"data: " + orjson.dumps(event) + b"\r\n\r\n" for event in events]


def events_reply(events: Iterable[dict[str, Any]], **options: Any) -> Reply:
    return Reply(chunks=encode(events), **options)


def gemini_reply(parts: Iterable[dict[str, Any]], **options: Any) -> Reply:
    """A 200 stream; options go to response_chunks (finish, metadata) or Reply (delay, …)."""
    reply_options = {k: options.pop(k) for k in list(options) if k in REPLY_OPTIONS}
    return Reply(chunks=encode(response_chunks(parts, **options)), **reply_options)


def error_reply(status: int, message: str, status_name: str, reason: str | None = None) -> Reply:
    return json_reply(status, error_body(status, message, status_name, reason))


def default_reply(request: RecordedRequest) -> Reply:
    """What Google answers a request that is not a streamGenerateContent call with a key;
    otherwise a short text."""
    if request.method != "POST" or not PATH.match(request.path):
        return error_reply(404, "Not found", "NOT_FOUND")
    if not request.headers.get(API_KEY_HEADER):
        return error_reply(403, "Method doesn't allow unregistered callers", "PERMISSION_DENIED")
    return gemini_reply([text("Hello "), text("from "), text("Gemini.")])


def model_of(request: RecordedRequest) -> str | None:
    """The model id in a recorded request's path."""
    match = PATH.match(request.path)
    return match["model"] if match else None


class FakeGeminiServer(KeepAliveServer):
    """A Gemini API upstream; `base_url` ends in `/v1beta` like the real one. Keeps its
    connections alive between whole replies; `connections` counts them."""

    def __init__(self, default: Handler | Reply | None = None) -> None:
        super().__init__(default or default_reply)

    @property
    def base_url(self) -> str:
        return self.origin + "/v1beta"
