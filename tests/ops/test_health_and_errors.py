"""Operations: readiness reflects the database (503) and Redis (degraded, still 200);
unexpected errors stay JSON."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from chatbot_api.main import create_app
from tests.conftest import TestDatabase, make_settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get(path)


async def test_ready_answers_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        postgres_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing",
        data_dir=tmp_path,
        jwt_secret_key="x" * 40,
    )
    response = await _get(create_app(settings), "/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")
    assert (await _get(create_app(settings), "/health")).status_code == 200  # process is up


async def test_ready_stays_200_and_says_degraded_when_redis_is_unreachable(
    db: TestDatabase, tmp_path: Path
) -> None:
    settings = make_settings(db, tmp_path, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    response = await _get(create_app(settings), "/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "degraded"},
    }


async def test_ready_reports_redis_ok_when_configured(
    db: TestDatabase, tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(db, tmp_path, redis_url=redis_url)
    response = await _get(create_app(settings), "/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_unexpected_error_is_a_json_500_with_request_id_and_no_trace(
    db: TestDatabase, tmp_path: Path
) -> None:
    app = create_app(make_settings(db, tmp_path))

    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/api/explode", explode)
    response = await _get(app, "/api/explode")
    assert response.status_code == 500
    assert response.json() == {
        "code": "",
        "message": "Something went wrong. Please try again later.",
    }
    assert response.headers["x-request-id"]
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


async def test_an_os_error_not_from_the_database_stays_a_json_500(
    db: TestDatabase, tmp_path: Path
) -> None:
    """Only the database's own connection errors are a 503: a reset elsewhere is our bug."""
    app = create_app(make_settings(db, tmp_path))

    async def reset() -> None:
        raise ConnectionResetError("some other upstream")

    app.add_api_route("/api/reset", reset)
    response = await _get(app, "/api/reset")
    assert response.status_code == 500
    assert response.json() == {
        "code": "",
        "message": "Something went wrong. Please try again later.",
    }
    assert response.headers["x-request-id"]


async def test_client_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/ping", headers={"X-Request-ID": "req-123"})
    assert response.text == "pong"
    assert response.headers["x-request-id"] == "req-123"


async def test_oversized_body_is_refused_with_413_before_it_is_read(
    db: TestDatabase, tmp_path: Path
) -> None:
    app = create_app(make_settings(db, tmp_path, max_request_body_bytes=2048))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            declared = await http.post("/api/chat", content=b"x" * 4096)
            assert declared.status_code == 413
            assert declared.json()["code"] == "bad_request:too_large"
            assert "2048" in declared.json()["cause"]

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
                for _ in range(8):
                    yield b"x" * 1024

            streamed = await http.post("/api/chat", content=chunks())
            assert streamed.status_code == 413
            cloud = await http.post("/v1/threads", content=b"x" * 4096)
            assert cloud.status_code == 413
            assert set(cloud.json()) == {"message", "error"}
