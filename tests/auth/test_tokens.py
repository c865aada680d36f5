"""Refresh rotation, reuse detection, logout, and the JWTs we refuse."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from chatbot_api.core.security import create_access_token
from chatbot_api.db.types import utcnow
from tests.auth.workers import running
from tests.conftest import TEST_SECRET
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("db")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _signed_up(client: httpx.AsyncClient) -> dict[str, Any]:
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": "secret-pass"}
    )
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_to_a_new_working_pair(client: httpx.AsyncClient) -> None:
    first = await _signed_up(client)
    rotated = await _refresh(client, first["refresh_token"])
    assert rotated.status_code == 200
    pair = rotated.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["user"] == first["user"]
    session = await client.get("/api/auth/session", headers=_bearer(pair["access_token"]))
    assert session.json()["user"] == first["user"]
    assert (await _refresh(client, pair["refresh_token"])).status_code == 200


async def test_refresh_reusing_rotated_token_revokes_the_family(
    client: httpx.AsyncClient,
) -> None:
    first = await _signed_up(client)
    second = (await _refresh(client, first["refresh_token"])).json()

    reused = await _refresh(client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "unauthorized:auth"
    # The thief's copy and the legitimate newest token are both dead now.
    assert (await _refresh(client, second["refresh_token"])).status_code == 401


async def test_refresh_reuse_leaves_other_sessions_working(client: httpx.AsyncClient) -> None:
    first = await _signed_up(client)
    other = await client.post(
        "/api/auth/login", json={"email": first["user"]["email"], "password": "secret-pass"}
    )
    await _refresh(client, first["refresh_token"])
    await _refresh(client, first["refresh_token"])
    assert (await _refresh(client, other.json()["refresh_token"])).status_code == 200


async def test_refresh_concurrently_with_one_token_yields_one_pair(
    client: httpx.AsyncClient,
) -> None:
    first = await _signed_up(client)
    responses = await asyncio.gather(*(_refresh(client, first["refresh_token"]) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 401, 401]


async def test_refresh_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await _refresh(client, "not-a-token-we-issued")
    assert response.status_code == 401


async def test_refresh_expired_token_is_401(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot_api.auth import service

    first = await _signed_up(client)
    later = utcnow() + timedelta(days=31)
    monkeypatch.setattr(service, "utcnow", lambda: later)
    assert (await _refresh(client, first["refresh_token"])).status_code == 401


async def test_logout_revokes_access_and_refresh_tokens(client: httpx.AsyncClient) -> None:
    pair = await _signed_up(client)
    response = await client.post(
        "/api/auth/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers=_bearer(pair["access_token"]),
    )
    assert response.status_code == 204
    assert response.content == b""
    session = await client.get("/api/auth/session", headers=_bearer(pair["access_token"]))
    assert session.status_code == 401
    assert (await _refresh(client, pair["refresh_token"])).status_code == 401


async def test_logout_on_one_worker_revokes_the_token_on_all_with_redis(
    settings: Settings, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url})
    async with running(shared) as worker_a, running(shared) as worker_b:
        pair = await _signed_up(worker_a)
        headers = _bearer(pair["access_token"])
        assert (await worker_b.get("/api/auth/session", headers=headers)).status_code == 200
        assert (await worker_a.post("/api/auth/logout", headers=headers)).status_code == 204
        assert (await worker_b.get("/api/auth/session", headers=headers)).status_code == 401


async def test_logout_ignores_another_users_refresh_token(client: httpx.AsyncClient) -> None:
    victim = await _signed_up(client)
    attacker = await _signed_up(client)
    response = await client.post(
        "/api/auth/logout",
        json={"refresh_token": victim["refresh_token"]},
        headers=_bearer(attacker["access_token"]),
    )
    assert response.status_code == 204
    assert (await _refresh(client, victim["refresh_token"])).status_code == 200


async def test_logout_without_body_revokes_the_access_token(client: httpx.AsyncClient) -> None:
    pair = await _signed_up(client)
    assert (
        await client.post("/api/auth/logout", headers=_bearer(pair["access_token"]))
    ).status_code == 204
    session = await client.get("/api/auth/session", headers=_bearer(pair["access_token"]))
    assert session.status_code == 401


async def test_logout_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/logout")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:auth"


def _claims(user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "email": "someone@example.com",
        "type": "regular",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "token_use": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forged_tokens(user_id: uuid.UUID) -> dict[str, str]:
    good = jwt.encode(_claims(user_id), TEST_SECRET, algorithm="HS256")
    header, _, signature = good.split(".")
    tampered_payload = _b64(_claims(user_id, type="regular", email="admin@example.com"))
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user_id))}.",
        "wrong key": jwt.encode(_claims(user_id), "another-secret-" + "x" * 32, algorithm="HS256"),
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "expired": jwt.encode(
            _claims(user_id, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
            TEST_SECRET,
            algorithm="HS256",
        ),
        "refresh-type token": jwt.encode(
            _claims(user_id, token_use="refresh"), TEST_SECRET, algorithm="HS256"
        ),
        "missing exp": jwt.encode(_claims(user_id, exp=None), TEST_SECRET, algorithm="HS256"),
        "other algorithm": jwt.encode(_claims(user_id), TEST_SECRET, algorithm="HS512"),
        "garbage": "not.a.jwt",
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "kind",
    [
        "alg none",
        "wrong key",
        "tampered payload",
        "expired",
        "refresh-type token",
        "missing exp",
        "other algorithm",
        "garbage",
    ],
)
async def test_bearer_forged_or_invalid_token_is_401(
    app: FastAPI, client: httpx.AsyncClient, kind: str
) -> None:
    user = await make_user(app)
    token = _forged_tokens(user.id)[kind]
    response = await client.get("/api/auth/session", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:auth"


async def test_bearer_opaque_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    pair = await _signed_up(client)
    response = await client.get("/api/auth/session", headers=_bearer(pair["refresh_token"]))
    assert response.status_code == 401


def _token_for(user: Any, expires_in: timedelta) -> tuple[str, datetime]:
    """A regular user's access token signed with the test app's key, and its expiry."""
    return create_access_token(
        user_id=user.id,
        email=user.email,
        user_type="regular",
        secret=TEST_SECRET,
        algorithm="HS256",
        expires_in=expires_in,
    )


async def test_bearer_valid_token_reports_its_expiry(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    token, expires_at = _token_for(user, timedelta(minutes=5))
    response = await client.get("/api/auth/session", headers=_bearer(token))
    assert response.status_code == 200
    assert response.json()["expires"] == expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_bearer_token_accepted_before_is_401_once_expired(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A verified token is remembered, but only until its `exp`."""
    user = await make_user(app)
    token, _ = _token_for(user, timedelta(seconds=3))  # `exp` is whole seconds: 2-3 s from now
    for _ in range(2):
        response = await client.get("/api/auth/session", headers=_bearer(token))
        assert response.status_code == 200
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    response = await client.get("/api/auth/session", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:auth"


async def test_bearer_altered_copy_of_an_accepted_token_is_401(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    token, _ = _token_for(user, timedelta(minutes=5))
    assert (await client.get("/api/auth/session", headers=_bearer(token))).status_code == 200
    head, payload, signature = token.split(".")
    altered = {
        "signature": f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        "payload": f"{head}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}",
        "appended": f"{token}x",
    }
    for kind, forged in altered.items():
        response = await client.get("/api/auth/session", headers=_bearer(forged))
        assert response.status_code == 401, kind
    assert (await client.get("/api/auth/session", headers=_bearer(token))).status_code == 200
