"""Dual auth: Auth.js session cookies minted by the real @auth/core 0.37.2 sign requests in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_node

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("db")]

AUTH_SECRET = "nextjs-auth-secret-0123456789-abcdefghijklmnop"
OTHER_SECRET = "another-auth-secret-0123456789-abcdefghijklmnop"
SECURE = "__Secure-authjs.session-token"
PLAIN = "authjs.session-token"
REGULAR = {"id": str(uuid.uuid4()), "email": "ada@example.com", "type": "regular"}
GUEST = {"id": str(uuid.uuid4()), "email": "guest-1763700000123", "type": "guest"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"auth_secret": AUTH_SECRET}


def _token(user: dict[str, str], **extra: Any) -> dict[str, Any]:
    # What the app's jwt callback stores: Auth.js's sub/email plus the app's id and type.
    return {
        "email": user["email"],
        "sub": user["id"],
        "id": user["id"],
        "type": user["type"],
        **extra,
    }


def _mint(clients_dir: Path, *requests: dict[str, Any]) -> list[str]:
    values: list[str] = run_node(clients_dir, "authjs.mjs", _json(list(requests)))
    return values


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


async def _session(client: httpx.AsyncClient, cookies: dict[str, str], **headers: str) -> Any:
    cookie_header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    response = await client.get("/api/auth/session", headers={"Cookie": cookie_header, **headers})
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("cookie_name", [SECURE, PLAIN])
@pytest.mark.parametrize("user", [REGULAR, GUEST], ids=["regular", "guest"])
async def test_session_with_authjs_cookie_is_that_user(
    client: httpx.AsyncClient, clients_dir: Path, cookie_name: str, user: dict[str, str]
) -> None:
    [value] = _mint(
        clients_dir, {"token": _token(user), "secret": AUTH_SECRET, "salt": cookie_name}
    )
    body = await _session(client, {cookie_name: value})
    assert body["user"] == user
    expires = datetime.strptime(body["expires"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    remaining = (expires - datetime.now(UTC)).total_seconds()
    assert 30 * 86400 - 120 < remaining <= 30 * 86400


async def test_session_with_cookie_without_type_infers_it_from_email(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    guest = {"email": GUEST["email"], "sub": GUEST["id"]}
    regular = {"email": REGULAR["email"], "sub": REGULAR["id"]}
    guest_value, regular_value = _mint(
        clients_dir,
        {"token": guest, "secret": AUTH_SECRET, "salt": PLAIN},
        {"token": regular, "secret": AUTH_SECRET, "salt": PLAIN},
    )
    assert (await _session(client, {PLAIN: guest_value}))["user"]["type"] == "guest"
    assert (await _session(client, {PLAIN: regular_value}))["user"]["type"] == "regular"


async def test_session_with_chunked_cookie_is_that_user(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    [value] = _mint(clients_dir, {"token": _token(REGULAR), "secret": AUTH_SECRET, "salt": SECURE})
    middle = len(value) // 2
    body = await _session(client, {f"{SECURE}.0": value[:middle], f"{SECURE}.1": value[middle:]})
    assert body["user"] == REGULAR


async def test_session_with_cookie_of_another_secret_is_anonymous(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    [value] = _mint(clients_dir, {"token": _token(REGULAR), "secret": OTHER_SECRET, "salt": PLAIN})
    assert await _session(client, {PLAIN: value}) is None


async def test_session_with_expired_cookie_is_anonymous(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    [value] = _mint(
        clients_dir,
        {"token": _token(REGULAR), "secret": AUTH_SECRET, "salt": PLAIN, "maxAge": -60},
    )
    assert await _session(client, {PLAIN: value}) is None


async def test_session_with_cookie_under_the_wrong_name_is_anonymous(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    [value] = _mint(clients_dir, {"token": _token(REGULAR), "secret": AUTH_SECRET, "salt": PLAIN})
    assert await _session(client, {SECURE: value}) is None


async def test_session_with_garbage_cookie_is_anonymous(client: httpx.AsyncClient) -> None:
    assert await _session(client, {PLAIN: "not-a-jwe"}) is None
    assert await _session(client, {SECURE: "eyJhbGciOiJkaXIifQ.x.y.z.w"}) is None


async def test_bearer_token_takes_precedence_over_cookie(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    [value] = _mint(clients_dir, {"token": _token(REGULAR), "secret": AUTH_SECRET, "salt": PLAIN})
    guest = (await client.post("/api/auth/guest")).json()
    body = await _session(client, {PLAIN: value}, Authorization=f"Bearer {guest['access_token']}")
    assert body["user"]["email"] == guest["user"]["email"]


@pytest.mark.parametrize("settings_overrides", [{}], ids=["no-auth-secret"])
async def test_session_ignores_cookies_without_auth_secret(
    client: httpx.AsyncClient, clients_dir: Path
) -> None:
    [value] = _mint(clients_dir, {"token": _token(REGULAR), "secret": AUTH_SECRET, "salt": PLAIN})
    assert await _session(client, {PLAIN: value}) is None
