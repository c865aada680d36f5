"""A local stand-in for Open-Meteo's geocoding and forecast APIs (same paths, JSON shapes)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CITIES: dict[str, tuple[float, float]] = {
    "san francisco": (37.77493, -122.41942),
    "paris": (48.85341, 2.3488),
    "london": (51.50853, -0.12574),
}


def forecast(latitude: float, longitude: float) -> dict[str, Any]:
    """A forecast body shaped like `api.open-meteo.com/v1/forecast`."""
    hours = [f"2026-01-15T{h:02d}:00" for h in range(24)]
    return {
        "latitude": latitude,
        "longitude": longitude,
        "generationtime_ms": 0.05,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 10.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C"},
        "current": {"time": "2026-01-15T12:00", "interval": 900, "temperature_2m": 17.2},
        "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
        "hourly": {"time": hours, "temperature_2m": [12.0 + h / 4 for h in range(24)]},
        "daily_units": {"time": "iso8601", "sunrise": "iso8601", "sunset": "iso8601"},
        "daily": {
            "time": ["2026-01-15"],
            "sunrise": ["2026-01-15T07:20"],
            "sunset": ["2026-01-15T17:05"],
        },
    }


@dataclass
class OpenMeteoFake:
    """Serves `/v1/search` and `/v1/forecast`; records the queries it got."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""

    @property
    def geocoding_url(self) -> str:
        return f"{self.base_url}/v1/search"

    @property
    def forecast_url(self) -> str:
        return f"{self.base_url}/v1/forecast"

    def app(self) -> Starlette:
        async def search(request: Request) -> JSONResponse:
            params = dict(request.query_params)
            self.requests.append(("search", params))
            found = CITIES.get(params.get("name", "").strip().lower())
            if found is None:
                return JSONResponse({"generationtime_ms": 0.1})
            name = params["name"]
            result = {"id": 1, "name": name, "latitude": found[0], "longitude": found[1]}
            return JSONResponse({"results": [result], "generationtime_ms": 0.1})

        async def get_forecast(request: Request) -> JSONResponse:
            params = dict(request.query_params)
            self.requests.append(("forecast", params))
            return JSONResponse(forecast(float(params["latitude"]), float(params["longitude"])))

        return Starlette(routes=[Route("/v1/search", search), Route("/v1/forecast", get_forecast)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def open_meteo() -> Iterator[OpenMeteoFake]:
    fake = OpenMeteoFake()
    with serve_in_thread(fake.app()) as base_url:
        fake.base_url = base_url
        yield fake
