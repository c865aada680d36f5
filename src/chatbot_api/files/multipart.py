"""Reads one file field from a multipart request as it streams in, never past a byte cap."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

FORM_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small extra fields
MAX_FIELD_NAME_BYTES = 256


class FormUnreadable(Exception):
    """Not a multipart/form-data body, or a malformed one."""


class BodyEmpty(Exception):
    """The request has no body at all."""


class BodyTooLarge(Exception):
    """The body exceeds the cap before the file field could be read."""


@dataclass
class FormFile:
    """The wanted field: its first `max_bytes` bytes, and whether it was longer."""

    is_file: bool  # the part carried a filename (a File/Blob, not a plain text value)
    filename: str
    declared_type: str | None
    data: bytes
    too_large: bool


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: bytes = b""
    filename: str | None = None
    wanted: bool = False


class _Collector:
    """python-multipart callbacks that keep the wanted part's bytes, up to the cap."""

    def __init__(self, field_name: str, max_bytes: int) -> None:
        self.field_name = field_name.encode()
        self.max_bytes = max_bytes
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.found: _Part | None = None
        self.data = bytearray()
        self.too_large = False
        self.complete = False  # the wanted part ended
        self.ended = False  # the whole message ended

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda d, s, e: self.header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = params.get(b"name", b"")[:MAX_FIELD_NAME_BYTES]
        raw_filename = params.get(b"filename")
        if raw_filename is not None:
            self.part.filename = raw_filename.decode("utf-8", "replace")
        self.part.wanted = self.found is None and self.part.name == self.field_name
        if self.part.wanted:
            self.found = self.part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.part.wanted or self.too_large:
            return
        room = self.max_bytes - len(self.data)
        chunk = data[start:end]
        if len(chunk) > room:
            self.data.extend(chunk[:room])
            self.too_large = True
        else:
            self.data.extend(chunk)

    def on_part_end(self) -> None:
        if self.part.wanted:
            self.complete = True

    def on_end(self) -> None:
        self.ended = True


def _boundary(request: Request) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise FormUnreadable("expected multipart/form-data with a boundary")
    return boundary


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise FormUnreadable("invalid Content-Length") from exc


async def read_form_file(request: Request, field_name: str, max_bytes: int) -> FormFile | None:
    """The field `field_name`, or None when the form has no such field.

    Reads at most `max_bytes` of the field plus FORM_OVERHEAD_BYTES of framing: a longer
    field comes back with `too_large`, its first bytes kept (enough to tell its type); a
    longer body without the field raises BodyTooLarge. Nothing is spooled to disk.
    """
    max_body = max_bytes + FORM_OVERHEAD_BYTES
    length = _declared_length(request)
    if length == 0:
        raise BodyEmpty
    boundary = _boundary(request)
    if length is not None and length > max_body:
        raise BodyTooLarge
    collector = _Collector(field_name, max_bytes)
    try:
        parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    except FormParserError as exc:
        raise FormUnreadable(str(exc)) from exc
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        over = received > max_body
        try:
            parser.write(chunk[: max(0, len(chunk) - (received - max_body))] if over else chunk)
        except FormParserError as exc:
            raise FormUnreadable(str(exc)) from exc
        if collector.too_large or over:
            break
        if collector.ended:
            break
    else:
        if received == 0:
            raise BodyEmpty
    return _result(collector, over=received > max_body)


def _result(collector: _Collector, *, over: bool) -> FormFile | None:
    found = collector.found
    if found is None:
        if over:
            raise BodyTooLarge
        if not collector.ended:
            raise FormUnreadable("the multipart body ended early")
        return None
    too_large = collector.too_large or (over and not collector.complete)
    if not too_large and not collector.complete:
        raise FormUnreadable("the multipart body ended early")
    return FormFile(
        is_file=found.filename is not None,
        filename=found.filename or "",
        declared_type=(found.headers.get(b"content-type") or b"").decode("latin-1") or None,
        data=bytes(collector.data),
        too_large=too_large,
    )
