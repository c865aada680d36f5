"""Redis down is degraded, not down: with the test's own redis-server stopped (or frozen), auth
routes answer as usual on each worker's local fallbacks, and everything goes back to Redis by
itself when it returns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from chatbot_api.core.config import Settings
from tests.auth.workers import running
from tests.factories import make_user
from tests.outages.redis_server import RedisServer

pytestmark = pytest.mark.usefixtures("db")

BLACKHOLED_REQUEST_BOUND = 3.0  # seconds; REDIS_TIMEOUT_SECONDS is 1 by default


@pytest.fixture
def settings_overrides(redis_server: RedisServer) -> dict[str, Any]:
    return {"redis_url": redis_server.url, "auth_login_attempts_per_account": 3}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _until(condition: Callable[[], Any], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s: {what}")


async def _until_redis_is_back(http: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        response = await http.get("/health/ready")
        return bool(
            response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
        )

    await _until(ready, "/health/ready says redis ok")


async def _until_refused(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    async def refused() -> bool:
        return (await http.get("/api/history", headers=headers)).status_code == 401

    await _until(refused, "the signed-out token is refused")


async def _register(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post("/api/auth/register", json={"email": email, "password": "secret-pass"})


async def _wrong_login(http: httpx.AsyncClient, email: str) -> int:
    response = await http.post("/api/auth/login", json={"email": email, "password": "wrong-pass"})
    return response.status_code


async def test_auth_routes_answer_as_usual_while_redis_is_down(
    app: FastAPI, client: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    registered = await _register(client, "ada@example.com")
    assert registered.status_code == 201
    redis_server.stop()

    async def mirror_lost() -> bool:
        return not app.state.revoked_tokens.mirroring

    await _until(mirror_lost, "the revocation mirror noticed")  # token checks would ask Redis
    login = await client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "secret-pass"}
    )
    assert login.status_code == 200
    assert (await client.post("/api/auth/guest")).status_code == 201
    assert (await _register(client, "grace@example.com")).status_code == 201
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": registered.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    access = _bearer(refreshed.json()["access_token"])
    assert (await client.get("/api/history", headers=access)).status_code == 200
    assert (await client.get("/api/auth/session", headers=access)).status_code == 200
    logout = await client.post(
        "/api/auth/logout",
        headers=access,
        json={"refresh_token": refreshed.json()["refresh_token"]},
    )
    assert logout.status_code == 204
    assert (await client.get("/api/history", headers=access)).status_code == 401
    other_session = _bearer(login.json()["access_token"])
    assert (await client.get("/api/history", headers=other_session)).status_code == 200


async def test_a_logout_while_redis_is_down_reaches_the_other_workers_when_it_is_back(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, redis_server: RedisServer
) -> None:
    user = await make_user(app)
    async with running(settings) as other:
        assert (await other.get("/api/history", headers=user.headers)).status_code == 200
        redis_server.stop()
        assert (await client.post("/api/auth/logout", headers=user.headers)).status_code == 204
        assert (await client.get("/api/history", headers=user.headers)).status_code == 401
        redis_server.start()  # empty: nothing survived the outage but what workers kept
        await _until_refused(other, user.headers)
    async with running(settings) as later:  # a worker started after loads it from Redis
        assert (await later.get("/api/history", headers=user.headers)).status_code == 401


async def test_throttles_count_per_worker_while_redis_is_down_and_shared_again_after(
    client: httpx.AsyncClient, settings: Settings, redis_server: RedisServer
) -> None:
    async with running(settings) as other:
        redis_server.stop()
        assert [await _wrong_login(client, "a@example.com") for _ in range(4)] == [
            401,
            401,
            401,
            429,
        ]
        assert await _wrong_login(other, "a@example.com") == 401  # its own count
        redis_server.start()
        await _until_redis_is_back(client)
        await _until_redis_is_back(other)
        attempts = [client, client, other]
        assert [await _wrong_login(http, "b@example.com") for http in attempts] == [401] * 3
        assert await _wrong_login(other, "b@example.com") == 429  # counted across workers
    redis = Redis.from_url(redis_server.url)
    try:
        assert await redis.keys(f"{settings.redis_key_prefix}ratelimit:login-account:*")
    finally:
        await redis.aclose()


async def test_a_worker_starts_and_serves_while_redis_is_down(
    settings: Settings, redis_server: RedisServer
) -> None:
    redis_server.stop()
    async with running(settings) as worker:
        ready = await worker.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "degraded"}
        guest = await worker.post("/api/auth/guest")
        assert guest.status_code == 201
        headers = _bearer(guest.json()["access_token"])
        assert (await worker.get("/api/history", headers=headers)).status_code == 200
        assert (await worker.post("/api/auth/logout", headers=headers)).status_code == 204
        assert (await worker.get("/api/history", headers=headers)).status_code == 401
        redis_server.start()
        await _until_redis_is_back(worker)
        async with running(settings) as later:
            await _until_refused(later, headers)  # the logout was written once Redis came


async def test_ready_says_degraded_while_redis_is_down_and_ok_when_it_is_back(
    client: httpx.AsyncClient, redis_server: RedisServer
) -> None:
    await _until_redis_is_back(client)
    redis_server.stop()
    ready = await client.get("/health/ready")
    assert ready.status_code == 200  # a cache outage keeps the worker in the load balancer
    assert ready.json() == {"status": "degraded", "checks": {"database": "ok", "redis": "degraded"}}
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    redis_server.start()
    await _until_redis_is_back(client)


async def test_requests_answer_in_bounded_time_while_redis_is_blackholed(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, redis_server: RedisServer
) -> None:
    user = await make_user(app)
    async with running(settings) as other:
        redis_server.freeze()
        calls: list[tuple[str, str, dict[str, Any], int]] = [
            ("POST", "/api/auth/guest", {}, 201),
            (
                "POST",
                "/api/auth/login",
                {"json": {"email": user.email, "password": "wrong-pass"}},
                401,
            ),
            ("GET", "/api/history", {"headers": user.headers}, 200),
            ("POST", "/api/auth/logout", {"headers": user.headers}, 204),
            ("GET", "/api/history", {"headers": user.headers}, 401),
            ("GET", "/health/ready", {}, 200),
        ]
        for method, path, kwargs, status in calls:
            started = time.monotonic()
            response = await client.request(method, path, **kwargs)
            took = time.monotonic() - started
            assert (path, response.status_code) == (path, status)
            assert took < BLACKHOLED_REQUEST_BOUND, f"{method} {path} took {took:.1f} s"
        redis_server.thaw()
        await _until_redis_is_back(client)
        await _until_refused(other, user.headers)  # the logout made while frozen


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    client: httpx.AsyncClient, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged = structlog.testing.CapturingLogger()
    monkeypatch.setattr("chatbot_api.core.redis.log", logged)
    redis_server.stop()
    for _ in range(5):
        assert (await client.post("/api/auth/guest")).status_code == 201
        assert (await client.get("/health/ready")).status_code == 200
    await asyncio.sleep(1.5)  # the subscription retries meanwhile
    redis_server.start()
    await _until_redis_is_back(client)
    lines = [
        (call.method_name, call.args[0]) for call in logged.calls if call.kwargs["redis"] == "redis"
    ]
    assert lines == [("warning", "redis unreachable"), ("info", "redis reachable again")]
    for name in {call.kwargs["redis"] for call in logged.calls}:
        methods = [call.method_name for call in logged.calls if call.kwargs["redis"] == name]
        assert methods in (["warning"], ["warning", "info"]), (name, methods)
