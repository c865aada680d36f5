"""The AWS event stream (`application/vnd.amazon.eventstream`), decoded incrementally: frames
of a prelude (total length, headers length, prelude CRC32), headers, payload and message CRC32.

Our own decoder on the per-token path (AWS Bedrock's ConverseStream): one bytes slice per
frame, a CRC check over a memoryview and each distinct header block parsed once, about a fifth
of the CPU of botocore's EventStreamBuffer (measured in docs/providers-bedrock.md).
"""

from __future__ import annotations

import struct
from zlib import crc32

from chatbot_api.ai.base import ProviderError
from chatbot_api.ai.providers.errors import MSG_MALFORMED

PRELUDE_BYTES = 12  # total length, headers length, prelude CRC: three big-endian uint32
MIN_FRAME_BYTES = PRELUDE_BYTES + 4  # no headers, no payload, the message CRC
MAX_FRAME_BYTES = 16 * 1024 * 1024 + 128 * 1024  # AWS: 16 MiB payload, 128 KiB headers
MAX_KNOWN_HEADERS = 32
_PRELUDE = struct.Struct(">III")
_STRING = 7  # header value types: 0/1 bool, 2 byte, 3 int16, 4 int32, 5 int64, 6 bytes,
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}  # 7 string, 8 timestamp, 9 uuid

Headers = dict[str, str]
Frame = tuple[Headers, bytes]


class EventStreamDecoder:
    """Feed it the body as it arrives; it gives back each whole frame once, checked. A
    frame's headers dict may be shared with later frames: read it, do not change it."""

    __slots__ = ("_buffer", "_known", "_provider", "error")

    def __init__(self, provider: str) -> None:
        self._buffer = b""
        self.error: ProviderError | None = None
        self._provider = provider
        # A stream repeats a handful of header blocks (one per event type): parse each once.
        self._known: dict[bytes, Headers] = {}

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames `chunk` completes (a frame may span chunks). A bad CRC or length sets
        `error` (ProviderError(MSG_MALFORMED)) and gives the good frames before it."""
        if self.error is not None:
            raise self.error
        frames: list[Frame] = []
        try:
            self._decode(self._buffer + chunk if self._buffer else chunk, frames)
        except ProviderError as exc:
            self.error = exc
        return frames

    def _decode(self, buffer: bytes, frames: list[Frame]) -> None:
        size = len(buffer)
        offset = 0
        while size - offset >= PRELUDE_BYTES:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(buffer, offset)
            if crc32(buffer[offset : offset + 8]) != prelude_crc:
                raise self._malformed("prelude CRC mismatch")
            if not MIN_FRAME_BYTES <= total <= MAX_FRAME_BYTES or (
                headers_length > total - MIN_FRAME_BYTES
            ):
                raise self._malformed(f"bad lengths {total}/{headers_length}")
            end = offset + total
            if end > size:
                break
            view = memoryview(buffer)
            if crc32(view[offset : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
                raise self._malformed("message CRC mismatch")
            start = offset + PRELUDE_BYTES
            raw = buffer[start : start + headers_length]
            headers = self._known.get(raw)
            if headers is None:
                headers = self._headers(raw)
                if len(self._known) < MAX_KNOWN_HEADERS:
                    self._known[raw] = headers
            frames.append((headers, buffer[start + headers_length : end - 4]))
            offset = end
        self._buffer = buffer[offset:] if offset else buffer

    def finish(self) -> None:
        """At the body's end: a partial frame left over is a truncated stream."""
        if self._buffer:
            raise self._malformed(f"stream ends inside a frame ({len(self._buffer)} bytes)")

    def _headers(self, data: bytes) -> Headers:
        """String headers by name (the only kind AWS event streams use for routing); other
        types are skipped by their length."""
        headers: Headers = {}
        at = 0
        end = len(data)
        try:
            while at < end:
                name_length = data[at]
                name = data[at + 1 : at + 1 + name_length].decode()
                at += 1 + name_length
                kind = data[at]
                at += 1
                if kind == _STRING or kind == 6:
                    length = int.from_bytes(data[at : at + 2], "big")
                    if kind == _STRING:
                        headers[name] = data[at + 2 : at + 2 + length].decode()
                    at += 2 + length
                else:
                    at += _FIXED[kind]
        except (IndexError, KeyError, UnicodeDecodeError) as exc:
            raise self._malformed(f"bad headers: {exc!r}") from None
        if at != end:
            raise self._malformed("headers overrun their length")
        return headers

    def _malformed(self, why: str) -> ProviderError:
        return ProviderError(MSG_MALFORMED, detail=f"{self._provider}: event stream: {why}")
