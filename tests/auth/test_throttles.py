"""Login, registration and guest throttles: 429 with Retry-After, in memory and on Redis."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from tests.auth.workers import running
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("db")

LIMITS = {
    "auth_login_attempts_per_account": 3,
    "auth_login_attempts_per_ip": 5,
    "auth_register_per_ip": 2,
    "auth_guest_per_ip": 2,
}


@pytest.fixture(params=["memory", "redis"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    overrides: dict[str, Any] = dict(LIMITS)
    if request.param == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    return overrides


async def _login(client: httpx.AsyncClient, email: str, *, ip: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": ip} if ip else {}
    return await client.post(
        "/api/auth/login", json={"email": email, "password": "wrong-password"}, headers=headers
    )


def _assert_throttled(response: httpx.Response, window: int = 15 * 60) -> None:
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limit:auth"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window


async def test_login_over_account_limit_is_429_even_with_right_password(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, email="target@example.com", password="right-password")
    for _ in range(3):
        assert (await _login(client, "TARGET@example.com")).status_code == 401
    blocked = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "right-password"}
    )
    _assert_throttled(blocked)


async def test_login_over_ip_limit_is_429_across_accounts(client: httpx.AsyncClient) -> None:
    for index in range(5):
        assert (await _login(client, f"user{index}@example.com")).status_code == 401
    _assert_throttled(await _login(client, "fresh@example.com"))


async def test_register_over_ip_limit_is_429(client: httpx.AsyncClient) -> None:
    for index in range(2):
        response = await client.post(
            "/api/auth/register",
            json={"email": f"new{index}@example.com", "password": "secret-pass"},
        )
        assert response.status_code == 201
    blocked = await client.post(
        "/api/auth/register", json={"email": "new9@example.com", "password": "secret-pass"}
    )
    _assert_throttled(blocked, window=60 * 60)


async def test_guest_over_ip_limit_is_429(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/auth/guest")).status_code == 201
    assert (await client.post("/api/auth/guest")).status_code == 201
    _assert_throttled(await client.post("/api/auth/guest"), window=60 * 60)


@pytest.mark.parametrize("settings_overrides", [{**LIMITS, "trust_proxy_headers": True}])
async def test_login_behind_trusted_proxy_throttles_each_forwarded_ip(
    client: httpx.AsyncClient,
) -> None:
    for index in range(5):
        await _login(client, f"u{index}@example.com", ip="203.0.113.7, 10.0.0.1")
    _assert_throttled(await _login(client, "u9@example.com", ip="203.0.113.7"))
    assert (await _login(client, "u9@example.com", ip="198.51.100.2")).status_code == 401


async def test_login_ignores_forwarded_for_from_untrusted_clients(
    client: httpx.AsyncClient,
) -> None:
    for index in range(5):
        await _login(client, f"u{index}@example.com", ip=f"198.51.100.{index}")
    _assert_throttled(await _login(client, "u9@example.com", ip="198.51.100.99"))


@pytest.mark.parametrize("settings_overrides", [{}], ids=["defaults"])
async def test_login_limit_is_shared_by_workers_on_redis(
    settings: Settings, redis_url: str
) -> None:
    shared = settings.model_copy(update={**LIMITS, "redis_url": redis_url})
    async with running(shared) as worker_a, running(shared) as worker_b:
        for worker in (worker_a, worker_b, worker_a):
            assert (await _login(worker, "shared@example.com")).status_code == 401
        _assert_throttled(await _login(worker_b, "shared@example.com"))
