"""A fake AWS Bedrock runtime: `POST /model/{modelId}/converse-stream`, SigV4 checked like AWS
does, answered with real binary event-stream frames (`application/vnd.amazon.eventstream`).

    with FakeBedrockServer() as server:
        server.queue(converse_reply([text_block(["Hi ", "there"])]))
        provider = BedrockProvider(http, signer, endpoint_url=server.origin)

The signature is recomputed with botocore from the known test credentials over the headers the
client listed in `SignedHeaders`, the path as sent and the body as received; a mismatch is a
403 `InvalidSignatureException` (the queue is left as it was), counted in `bad_signatures`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zlib import crc32

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from tests.fakes.http import Handler, RecordedRequest, Reply, json_reply
from tests.fakes.openai_server import KeepAliveServer

ACCESS_KEY = "AKIDFAKEBEDROCKTEST1"
SECRET_KEY = "fake/secret/key/for/bedrock/tests/000000"
SESSION_TOKEN = "fake-session-token-for-bedrock"
REGION = "us-east-1"
SERVICE = "bedrock"
EVENT_STREAM = "application/vnd.amazon.eventstream"
CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
}

Block = tuple[dict[str, Any] | None, list[dict[str, Any]]]  # contentBlockStart.start, deltas
Event = tuple[str, dict[str, Any]]  # :event-type, payload


# --- frames -------------------------------------------------------------------------------
def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC32), string headers, payload, CRC32."""
    raw = b""
    for name, value in headers.items():
        key, data = name.encode(), value.encode()
        raw += bytes([len(key)]) + key + b"\x07" + struct.pack(">H", len(data)) + data
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", crc32(prelude)) + raw + payload
    return message + struct.pack(">I", crc32(message))


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """An event as Bedrock sends it, with its `p` padding field."""
    body = orjson.dumps({**payload, "p": "abcdefghijklmnopqrstuvwxyzABCDEF"[: 1 + len(event_type)]})
    headers = {":event-type": event_type, ":content-type": "application/json",
               ":message-type": "event"}  # fmt: skip
    return encode_frame(headers, body)


def exception_frame(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json",
               ":message-type": "exception"}  # fmt: skip
    return encode_frame(headers, orjson.dumps({"message": message}))


def corrupt_crc(frame: bytes) -> bytes:
    """The frame with its message CRC's last byte flipped."""
    return frame[:-1] + bytes([frame[-1] ^ 0xFF])


# --- scripted replies ---------------------------------------------------------------------
def text_block(pieces: Iterable[str]) -> Block:
    return None, [{"text": piece} for piece in pieces]


def reasoning_block(pieces: Iterable[str]) -> Block:
    deltas: list[dict[str, Any]] = [{"reasoningContent": {"text": p}} for p in pieces]
    deltas.append({"reasoningContent": {"signature": "sig-fake"}})
    return None, deltas


def tool_use_block(tool_use_id: str, name: str, fragments: Iterable[str]) -> Block:
    start = {"toolUse": {"toolUseId": tool_use_id, "name": name}}
    return start, [{"toolUse": {"input": fragment}} for fragment in fragments]


def converse_events(
    blocks: Iterable[Block],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 34,
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> list[Event]:
    """messageStart, each block's (start,) deltas and stop, messageStop, metadata."""
    events: list[Event] = [("messageStart", {"role": "assistant"})]
    for index, (start, deltas) in enumerate(blocks):
        if start is not None:
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        events += [("contentBlockDelta", {"contentBlockIndex": index, "delta": d}) for d in deltas]
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": stop_reason}))
    usage: dict[str, Any] = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens + (cache_read or 0) + (cache_write or 0),
    }
    if cache_read is not None:
        usage["cacheReadInputTokens"] = cache_read
    if cache_write is not None:
        usage["cacheWriteInputTokens"] = cache_write
    events.append(("metadata", {"usage": usage, "metrics": {"latencyMs": 120}}))
    return events


_REPLY_KEYS = {"delay", "first_delay", "drop_after", "stall_after", "stall_seconds"}


def frames_reply(frames: Iterable[bytes], **options: Any) -> Reply:
    """A 200 event stream, one frame per HTTP chunk."""
    return Reply(chunks=list(frames), content_type=EVENT_STREAM, **options)


def events_reply(events: Iterable[Event], **options: Any) -> Reply:
    return frames_reply((event_frame(kind, payload) for kind, payload in events), **options)


def converse_reply(blocks: Iterable[Block], **options: Any) -> Reply:
    """A 200 stream of one message; options go to converse_events, or Reply (delay, …)."""
    reply_options = {k: options.pop(k) for k in list(options) if k in _REPLY_KEYS}
    return events_reply(converse_events(blocks, **options), **reply_options)


def error_reply(status: int, message: str) -> Reply:
    """An AWS JSON error body (the type travels in `x-amzn-ErrorType`, not modelled here)."""
    return json_reply(status, {"message": message})


# --- the server ---------------------------------------------------------------------------
def signature_problem(request: RecordedRequest, now: datetime | None = None) -> str | None:
    """Why AWS would refuse this request's SigV4 signature, or None when it is right."""
    auth = request.headers.get("authorization", "")
    prefix = "AWS4-HMAC-SHA256 "
    if not auth.startswith(prefix):
        return "missing or non-SigV4 Authorization"
    fields = dict(item.strip().split("=", 1) for item in auth[len(prefix) :].split(","))
    amz_date = request.headers.get("x-amz-date", "")
    scope = f"{ACCESS_KEY}/{amz_date[:8]}/{REGION}/{SERVICE}/aws4_request"
    if fields.get("Credential") != scope:
        return f"credential scope {fields.get('Credential')!r} is not {scope!r}"
    sent = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs((now or datetime.now(UTC)) - sent) > timedelta(minutes=5):
        return "request time too skewed"
    if request.headers.get("x-amz-security-token") != SESSION_TOKEN:
        return "wrong or missing security token"
    signed = fields.get("SignedHeaders", "").split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    headers = {name: request.headers.get(name, "") for name in signed}
    aws = AWSRequest(
        method=request.method, url=f"http://{headers['host']}{request.path}",
        data=request.body, headers=headers,
    )  # fmt: skip
    aws.context["timestamp"] = amz_date
    signer = SigV4Auth(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), SERVICE, REGION)
    canonical = signer.canonical_request(aws)
    expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
    if fields.get("Signature") != expected:
        return "The request signature we calculated does not match the signature you provided."
    return None


def model_of(request: RecordedRequest) -> str | None:
    """The model id of a `/model/{id}/converse-stream` path (percent-decoded), else None."""
    parts = request.path.split("/")
    if len(parts) != 4 or parts[1] != "model" or parts[3] != "converse-stream":
        return None
    return unquote(parts[2])


def _default_reply(request: RecordedRequest) -> Reply:
    return converse_reply([text_block(["Hello ", "from ", "the ", "fake ", "server."])])


class FakeBedrockServer(KeepAliveServer):
    """A bedrock-runtime endpoint (`origin` is its endpoint URL)."""

    def __init__(self, default: Handler | Reply | None = None) -> None:
        super().__init__(default or _default_reply)
        self.bad_signatures: list[str] = []

    def reply_for(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or model_of(request) is None:
            return json_reply(404, {"message": "UnknownOperationException"})
        problem = signature_problem(request)
        if problem is not None:
            self.bad_signatures.append(problem)
            return error_reply(403, problem)
        return super().reply_for(request)
