"""Register, login, guest and session through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import threading

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from chatbot_api.auth.models import User
from chatbot_api.core.security import DUMMY_PASSWORD_HASH, verify_password
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("db")


async def _register(
    client: httpx.AsyncClient, email: str, password: str = "secret-pass"
) -> httpx.Response:
    return await client.post("/api/auth/register", json={"email": email, "password": password})


async def _stored_users(app: FastAPI, email_like: str) -> list[User]:
    async with app.state.session_factory() as session:
        stmt = select(User).where(func.lower(User.email).like(email_like.lower()))
        return list((await session.scalars(stmt)).all())


async def test_register_then_login_returns_working_tokens(client: httpx.AsyncClient) -> None:
    created = await _register(client, "Ada@Example.com")
    assert created.status_code == 201
    body = created.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60 * 60
    assert body["user"]["email"] == "Ada@Example.com"
    assert body["user"]["type"] == "regular"
    assert body["refresh_token"]

    login = await client.post(
        "/api/auth/login", json={"email": "ada@example.COM", "password": "secret-pass"}
    )
    assert login.status_code == 200
    assert login.json()["user"] == body["user"]

    session = await client.get(
        "/api/auth/session", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert session.status_code == 200
    assert session.json()["user"] == body["user"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", session.json()["expires"])


async def test_register_stores_email_as_given_with_bcrypt_hash(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _register(client, "Grace.Hopper@Example.org", "cobol-rules")
    [user] = await _stored_users(app, "grace.hopper@example.org")
    assert user.email == "Grace.Hopper@Example.org"
    assert user.password is not None
    assert user.password.startswith("$2a$10$")
    assert verify_password("cobol-rules", user.password)


async def test_register_existing_email_any_case_conflicts(client: httpx.AsyncClient) -> None:
    assert (await _register(client, "dup@example.com")).status_code == 201
    again = await _register(client, "DUP@example.com")
    assert again.status_code == 409
    assert again.json() == {
        "code": "conflict:auth",
        "message": "Something went wrong. Please try again later.",
        "cause": "An account with this email already exists",
    }


async def test_register_concurrently_creates_exactly_one_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    responses = await asyncio.gather(
        *(_register(client, "RACE@example.com" if i % 2 else "race@example.com") for i in range(5))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409]
    assert len(await _stored_users(app, "race@example.com")) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "secret-pass"}, "body.email"),
        ({"email": ".ada@example.com", "password": "secret-pass"}, "body.email"),
        ({"email": "ada@example", "password": "secret-pass"}, "body.email"),
        ({"email": f"{'a' * 60}@example.com", "password": "secret-pass"}, "body.email"),
        ({"email": "ada@example.com", "password": "short"}, "body.password"),
        ({"email": "ada@example.com", "password": "x" * 129}, "body.password"),
        ({"email": "ada@example.com"}, "body.password"),
    ],
)
async def test_register_invalid_input_is_400_naming_the_field(
    client: httpx.AsyncClient, payload: dict[str, str], field: str
) -> None:
    response = await client.post("/api/auth/register", json=payload)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"].startswith(field)


async def test_register_accepts_json_sent_as_text_plain(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        content=b'{"email": "plain@example.com", "password": "secret-pass"}',
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 201


async def test_login_wrong_password_is_401_invalid_credentials(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, email="known@example.com", password="right-password")
    response = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "wrong-password"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:auth"
    assert response.json()["cause"] == "Invalid credentials"


async def test_login_unknown_email_is_401_invalid_credentials(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "whatever-1"}
    )
    assert response.status_code == 401
    assert response.json()["cause"] == "Invalid credentials"


async def test_login_passwordless_user_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with app.state.session_factory() as session:
        session.add(User(email="oauth@example.com", password=None))
        await session.commit()
    response = await client.post(
        "/api/auth/login", json={"email": "oauth@example.com", "password": "anything-1"}
    )
    assert response.status_code == 401


async def test_login_as_guest_email_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    await make_user(app, email="guest-1700000000000", password="known-guest-password")
    response = await client.post(
        "/api/auth/login",
        json={"email": "guest-1700000000000", "password": "known-guest-password"},
    )
    assert response.status_code == 401
    assert response.json()["cause"] == "Invalid credentials"


async def test_guest_creates_guest_account_with_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/api/auth/guest")
    assert response.status_code == 201
    user = response.json()["user"]
    assert re.fullmatch(r"guest-\d{13}", user["email"])
    assert user["type"] == "guest"
    [stored] = await _stored_users(app, user["email"])
    assert stored.password is not None
    assert stored.password.startswith("$2a$10$")

    session = await client.get(
        "/api/auth/session",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert session.json()["user"]["type"] == "guest"


async def test_guest_burst_gets_unique_emails(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(client.post("/api/auth/guest") for _ in range(12)))
    assert {r.status_code for r in responses} == {201}
    emails = [r.json()["user"]["email"] for r in responses]
    assert len(set(emails)) == len(emails)


async def test_session_without_credentials_is_null(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/session")
    assert response.status_code == 200
    assert response.json() is None


async def test_login_unknown_email_still_runs_bcrypt_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot_api.auth import service

    calls: list[tuple[str, int]] = []

    def recording_verify(password: str, hashed: str | None) -> bool:
        calls.append((hashed or "", threading.get_ident()))
        return verify_password(password, hashed)

    monkeypatch.setattr(service, "verify_password", recording_verify)
    response = await client.post(
        "/api/auth/login", json={"email": "ghost@example.com", "password": "whatever-1"}
    )
    assert response.status_code == 401
    assert [hashed for hashed, _ in calls] == [DUMMY_PASSWORD_HASH]
    assert calls[0][1] != threading.get_ident()
