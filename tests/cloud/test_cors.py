"""Browser apps on another origin can call `/v1` (preflight, Authorization, Aui-Sdk, PUT)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cloud.conftest import Pair

ORIGIN = "https://app.example.com"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"cors_origins": [ORIGIN]}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_preflight_allows_the_cloud_client_headers(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.options(
        "/v1/threads/123",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,aui-sdk",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert method in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "aui-sdk"):
        assert header in allowed


async def test_responses_carry_the_allowed_origin(client: httpx.AsyncClient, users: Pair) -> None:
    response = await client.get("/v1/threads", headers={**users.alice.headers, "Origin": ORIGIN})
    error = await client.get("/v1/threads", headers={"Origin": ORIGIN})

    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert error.status_code == 401
    assert error.headers["access-control-allow-origin"] == ORIGIN


async def test_other_origins_are_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/v1/threads",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in response.headers
