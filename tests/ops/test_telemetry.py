"""FastAPI's native OpenTelemetry is opt-in (`OTEL_ENABLED`): off, a request never looks for a
tracer provider; on, requests are traced through the globally configured one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan, Span

from chatbot_api.core.config import Settings
from chatbot_api.main import create_app


class _Tracer(trace.Tracer):
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        self.names.append(name)
        return NonRecordingSpan(INVALID_SPAN_CONTEXT)

    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.names.append(name)
        return trace.use_span(NonRecordingSpan(INVALID_SPAN_CONTEXT))


class _Provider(trace.TracerProvider):
    """A configured provider (as an OpenTelemetry SDK would install) that records span names."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.asked = 0

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _Tracer(self.names)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> _Provider:
    recording = _Provider()

    def configured() -> trace.TracerProvider:
        recording.asked += 1
        return recording

    monkeypatch.setattr(trace, "get_tracer_provider", configured)
    return recording


async def _pings(settings: Settings, count: int) -> Sequence[int]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return [(await http.get("/ping")).status_code for _ in range(count)]


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, jwt_secret_key="x" * 40, **values)


async def test_telemetry_is_off_by_default(tmp_path: Path, provider: _Provider) -> None:
    assert await _pings(_settings(tmp_path), 3) == [200, 200, 200]
    assert (provider.asked, provider.names) == (0, [])


async def test_otel_enabled_traces_requests(tmp_path: Path, provider: _Provider) -> None:
    assert await _pings(_settings(tmp_path, otel_enabled=True), 3) == [200, 200, 200]
    assert provider.asked > 0
    assert provider.names.count("GET") == 3  # one server span per request
