"""Chat-turn test helpers: bodies, SSE parsing, fake Open-Meteo, live servers and workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from chatbot_api.chats.models import Chat, Message
from chatbot_api.chats.turn.admission import Admission, PortableAdmission
from chatbot_api.chats.turn.admission_pg import PgAdmission
from chatbot_api.core.config import Settings
from chatbot_api.main import create_app
from tests.conftest import TEST_SECRET
from tests.factories import TestUser
from tests.fakes.open_meteo import OpenMeteoFake, free_port, open_meteo, serve_in_thread

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def admission(app: Any, kind: str) -> Admission:
    """The admission under test, by `kind` (parametrized by the test module): `portable`, or
    `function` (PostgreSQL's one round trip, falling back to the portable one)."""
    portable = PortableAdmission(app.state.session_factory)
    return PgAdmission(app.state.engine, portable) if kind == "function" else portable


@pytest.fixture(scope="session")
def weather_api() -> Iterator[OpenMeteoFake]:
    with open_meteo() as fake:
        yield fake


def turn_overrides(weather: OpenMeteoFake | None = None, **extra: Any) -> dict[str, Any]:
    """Settings for turn tests: an instant demo model and the fake Open-Meteo."""
    values: dict[str, Any] = {"demo_model_word_delay_ms": 0}
    if weather is not None:
        values["open_meteo_geocoding_url"] = weather.geocoding_url
        values["open_meteo_forecast_url"] = weather.forecast_url
    values.update(extra)
    return values


def chat_body(
    text: str = "Hello there",
    *,
    chat_id: uuid.UUID | str | None = None,
    model: str | None = "chat-model",
    visibility: str = "private",
    message_id: uuid.UUID | str | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """ai-chatbot's body for a new user message."""
    body: dict[str, Any] = {
        "id": str(chat_id or uuid.uuid4()),
        "message": {
            "id": str(message_id or uuid.uuid4()),
            "role": "user",
            "parts": parts if parts is not None else [{"type": "text", "text": text}],
        },
        "selectedVisibilityType": visibility,
    }
    if model is not None:
        body["selectedChatModel"] = model
    return body


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """The chunks of a UI message stream; asserts the framing and the final `[DONE]`."""
    events = raw.split(b"\n\n")
    assert events[-1] == b"", "the stream must end with a blank line"
    payloads = [event.removeprefix(b"data: ") for event in events[:-1]]
    assert payloads, "the stream is empty"
    assert payloads[-1] == b"[DONE]", "the stream must end with [DONE]"
    return [orjson.loads(payload) for payload in payloads[:-1]]


async def send(
    client: httpx.AsyncClient, user: TestUser | None, body: Any
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """POST /api/chat; the response and, when it streamed, its chunks."""
    headers = user.headers if user is not None else {}
    response = await client.post("/api/chat", json=body, headers=headers)
    chunks = parse_sse(response.content) if response.status_code == 200 else []
    return response, chunks


def balanced_ending(chunks: list[dict[str, Any]]) -> list[str]:
    """The stream's last three chunk types, once every opened step and block is closed."""
    types = [chunk["type"] for chunk in chunks]
    for opening, closing in (
        ("start-step", "finish-step"),
        ("text-start", "text-end"),
        ("reasoning-start", "reasoning-end"),
    ):
        assert types.count(opening) == types.count(closing), (opening, types)
    assert types[-1] == "finish", types
    return types[-3:]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c["type"] == "text-delta")


async def stored_messages(app: Any, chat_id: uuid.UUID | str) -> list[Message]:
    async with app.state.session_factory() as session:
        result = await session.scalars(
            select(Message)
            .where(Message.chat_id == uuid.UUID(str(chat_id)))
            .order_by(Message.created_at, Message.id)
        )
        return list(result.all())


async def stored_chat(app: Any, chat_id: uuid.UUID | str) -> Chat | None:
    async with app.state.session_factory() as session:
        chat: Chat | None = await session.get(Chat, uuid.UUID(str(chat_id)))
        return chat


async def wait_for(predicate: Any, seconds: float = 10.0) -> Any:
    """Poll an async predicate until it returns something truthy."""
    import asyncio

    deadline = time.monotonic() + seconds
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on loopback (in a thread, with its own event loop)."""
    with serve_in_thread(create_app(settings)) as base_url:
        yield base_url


@dataclass
class Worker:
    base_url: str
    process: subprocess.Popen[bytes]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "ENVIRONMENT": "test",
        "POSTGRES_URL": settings.database_url,
        "JWT_SECRET_KEY": TEST_SECRET,
        "DATA_DIR": str(settings.data_dir),
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "LOG_LEVEL": "WARNING",
        "OPEN_METEO_GEOCODING_URL": settings.open_meteo_geocoding_url,
        "OPEN_METEO_FORECAST_URL": settings.open_meteo_forecast_url,
    }
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.update(extra)
    return env


@contextmanager
def worker_processes(count: int, env: dict[str, str]) -> Iterator[list[Worker]]:
    """`count` separate server processes (`uvicorn --factory`) sharing database and Redis."""
    workers = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "chatbot_api.main:create_app",
                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                env=env,
            )  # fmt: skip
            workers.append(Worker(f"http://127.0.0.1:{port}", process))
        for worker in workers:
            _wait_healthy(worker)
        yield workers
    finally:
        for worker in workers:
            worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.process.kill()


def _wait_healthy(worker: Worker) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}")
        try:
            if httpx.get(worker.base_url + "/ping", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("worker did not become healthy")


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for live servers."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def assemble(
    clients_dir: Path,
    raw: bytes,
    version: str = "ai6",
    start: dict[str, Any] | None = None,
    *,
    allow_errors: bool = False,
) -> dict[str, Any]:
    """`{message, errors, chunks}`: what the real `ai` client assembles from this SSE body."""
    import tempfile

    from tests.conftest import run_node

    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.sse"
        body.write_bytes(raw)
        args = [version, str(body)]
        if start is not None:
            start_file = Path(tmp) / "start.json"
            start_file.write_bytes(orjson.dumps(start))
            args.append(str(start_file))
        result: dict[str, Any] = run_node(clients_dir, "assemble.mjs", *args)
    if not allow_errors:
        assert result["errors"] == [], result["errors"]
    return result


def ui_message(message: Message) -> dict[str, Any]:
    return {"id": str(message.id), "role": message.role, "parts": message.parts}
