"""`/v1/auth/tokens*` and `/v1/threads/claim`: API-key minting, anonymous identities, refresh,
claiming an anonymous identity's threads."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

from tests.cloud.conftest import ISO_MS, Pair
from tests.cloud.test_threads import create_thread

KEYS = "acme:key-acme-0123456789,acme:key-acme-rotated,globex:key-globex-0123456789"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"assistant_cloud_api_keys": KEYS}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return result


def api_key_headers(key: str, workspace: str, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Aui-Workspace-Id": workspace, "Aui-User-Id": user}


async def mint(client: httpx.AsyncClient, key: str, workspace: str, user: str) -> httpx.Response:
    return await client.post("/v1/auth/tokens", headers=api_key_headers(key, workspace, user))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_mint_returns_a_jwt_with_numeric_exp_that_works_on_v1(
    client: httpx.AsyncClient,
) -> None:
    response = await mint(client, "key-acme-0123456789", "acme", "user-42")

    assert response.status_code == 200
    token = response.json()["token"]
    assert isinstance(claims(token)["exp"], int)
    assert (await client.get("/v1/threads", headers=bearer(token))).status_code == 200


async def test_mint_maps_the_same_external_user_to_the_same_user(
    client: httpx.AsyncClient,
) -> None:
    first = (await mint(client, "key-acme-0123456789", "acme", "user-42")).json()["token"]
    again = (await mint(client, "key-acme-rotated", "acme", "user-42")).json()["token"]
    other = (await mint(client, "key-acme-0123456789", "acme", "user-43")).json()["token"]
    elsewhere = (await mint(client, "key-globex-0123456789", "globex", "user-42")).json()["token"]

    thread_id = await create_thread_with(client, first)

    assert claims(first)["sub"] == claims(again)["sub"]
    assert len({claims(t)["sub"] for t in (first, other, elsewhere)}) == 3
    assert len(claims(first)["email"]) <= 64
    assert (await client.get(f"/v1/threads/{thread_id}", headers=bearer(again))).status_code == 200
    for token in (other, elsewhere):
        response = await client.get(f"/v1/threads/{thread_id}", headers=bearer(token))
        assert response.status_code == 404


async def create_thread_with(client: httpx.AsyncClient, token: str) -> str:
    response = await client.post("/v1/threads", json={}, headers=bearer(token))
    thread_id: str = response.json()["thread_id"]
    return thread_id


async def test_mint_rejects_wrong_or_foreign_workspace_keys(client: httpx.AsyncClient) -> None:
    cases = [
        ("wrong-key", "acme"),
        ("key-globex-0123456789", "acme"),
        ("key-acme-0123456789", "unknown"),
    ]
    for key, workspace in cases:
        response = await mint(client, key, workspace, "user-1")

        assert response.status_code == 401, (key, workspace)
        assert response.json()["error"] == "unauthorized:cloud"
    missing = await client.post("/v1/auth/tokens", headers={"Aui-Workspace-Id": "acme"})
    assert missing.status_code == 400
    assert "aui-user-id" in missing.json()["message"].lower()


async def test_anonymous_token_has_the_client_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/tokens/anonymous")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"access_token", "refresh_token"}
    assert isinstance(claims(body["access_token"])["exp"], int)
    assert claims(body["access_token"])["type"] == "guest"
    assert body["refresh_token"]["token"]
    assert ISO_MS.fullmatch(body["refresh_token"]["expires_at"])


async def test_refresh_rotates_and_keeps_the_identity(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/auth/tokens/anonymous")).json()

    response = await client.post(
        "/v1/auth/tokens/refresh", json={"refresh_token": first["refresh_token"]["token"]}
    )
    reused = await client.post(
        "/v1/auth/tokens/refresh", json={"refresh_token": first["refresh_token"]["token"]}
    )

    assert response.status_code == 200
    second = response.json()
    assert claims(second["access_token"])["sub"] == claims(first["access_token"])["sub"]
    assert second["refresh_token"]["token"] != first["refresh_token"]["token"]
    assert reused.status_code == 401


async def test_refresh_with_bad_token_is_4xx(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/v1/auth/tokens/refresh", json={"refresh_token": "nope"})
    empty = await client.post("/v1/auth/tokens/refresh", json={})

    assert unknown.status_code == 401
    assert empty.status_code == 400
    assert "refresh_token" in empty.json()["message"]


@pytest.mark.parametrize("settings_overrides", [{"auth_guest_per_ip": 3}])
async def test_anonymous_is_throttled_per_ip(client: httpx.AsyncClient) -> None:
    statuses = [(await client.post("/v1/auth/tokens/anonymous")).status_code for _ in range(4)]

    assert statuses == [201, 201, 201, 429]


@pytest.mark.parametrize("settings_overrides", [{"assistant_cloud_anonymous": False}])
async def test_anonymous_can_be_disabled(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/tokens/anonymous")

    assert response.status_code == 403


async def test_claim_moves_the_anonymous_threads_to_the_caller(
    client: httpx.AsyncClient, users: Pair
) -> None:
    anon = (await client.post("/v1/auth/tokens/anonymous")).json()
    anon_headers = bearer(anon["access_token"])
    ids = {await create_thread_with(client, anon["access_token"]) for _ in range(2)}
    own = await create_thread(client, users.alice)

    response = await client.post(
        "/v1/threads/claim",
        json={"refresh_token": anon["refresh_token"]["token"]},
        headers=users.alice.headers,
    )

    assert response.status_code == 200
    assert response.json() == {"moved": 2}
    listed = (await client.get("/v1/threads", headers=users.alice.headers)).json()["threads"]
    assert {t["id"] for t in listed} == ids | {own}
    assert (await client.get("/v1/threads", headers=anon_headers)).json() == {"threads": []}
    again = await client.post(
        "/v1/threads/claim",
        json={"refresh_token": anon["refresh_token"]["token"]},
        headers=users.bob.headers,
    )
    assert again.status_code == 400  # the anonymous identity's tokens are revoked


async def test_claim_rejects_tokens_that_are_not_an_anonymous_identity(
    client: httpx.AsyncClient, users: Pair
) -> None:
    registered = await client.post(
        "/api/auth/register", json={"email": "carol@example.com", "password": "secret-123"}
    )
    carol_refresh = registered.json()["refresh_token"]

    for token in ("garbage", carol_refresh):
        response = await client.post(
            "/v1/threads/claim", json={"refresh_token": token}, headers=users.alice.headers
        )

        assert response.status_code == 400
        assert "refresh_token" in response.json()["message"]


async def test_claim_by_a_guest_is_403(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/auth/tokens/anonymous")).json()
    second = (await client.post("/v1/auth/tokens/anonymous")).json()

    response = await client.post(
        "/v1/threads/claim",
        json={"refresh_token": first["refresh_token"]["token"]},
        headers=bearer(second["access_token"]),
    )

    assert response.status_code == 403
