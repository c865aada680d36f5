"""Parsing the `timestamp` the ai-chatbot client sends to revert a document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatbot_api.core.errors import BadRequest
from chatbot_api.documents.service import parse_timestamp

EXPECTED = datetime(2026, 1, 15, 16, 6, 42, 123000, tzinfo=UTC)
WHOLE_SECOND = EXPECTED.replace(microsecond=0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-15T16:06:42.123Z", EXPECTED),
        ("2026-01-15T16:06:42.123456Z", EXPECTED),
        ("2026-01-15T16:06:42.123", EXPECTED),
        ("2026-01-15T17:06:42.123+01:00", EXPECTED),
        ("2026-01-15T17:06:42.123 01:00", EXPECTED),
        ("Thu Jan 15 2026 16:06:42 GMT+0000 (Coordinated Universal Time)", WHOLE_SECOND),
        ("Thu Jan 15 2026 16:06:42 GMT 0000 (Coordinated Universal Time)", WHOLE_SECOND),
        ("Thu Jan 15 2026 17:06:42 GMT+0100 (Central European Standard Time)", WHOLE_SECOND),
        ("Thu Jan 15 2026 11:06:42 GMT-0500 (Eastern Standard Time)", WHOLE_SECOND),
        ("Thu, 15 Jan 2026 16:06:42 GMT", WHOLE_SECOND),
    ],
)
def test_parse_timestamp_accepts_client_renderings(raw: str, expected: datetime) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["yesterday", "2026-13-45T00:00:00Z", "Thu Foo 15 2026 16:06:42 GMT+0000", "1" * 500],
)
def test_parse_timestamp_rejects_garbage_with_400(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_timestamp(raw)
    assert caught.value.status == 400
    assert "timestamp" in (caught.value.cause or "")
