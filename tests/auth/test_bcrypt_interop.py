"""Passwords interoperate with the Next.js app's bcrypt-ts 5.0.3, run under node."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.auth.models import User
from chatbot_api.core.security import hash_password, verify_password
from tests.conftest import run_node

pytestmark = [pytest.mark.node]

LONG_PASSWORD = "p" * 70 + "é" + "q" * 29  # 100 characters, 101 UTF-8 bytes


def _node_hash(clients_dir: Path, password: str) -> str:
    result: str = run_node(clients_dir, "bcrypt.mjs", "hash", password)["hash"]
    return result


def _node_compare(clients_dir: Path, password: str, hashed: str) -> bool:
    return bool(run_node(clients_dir, "bcrypt.mjs", "compare", password, hashed)["match"])


@pytest.mark.usefixtures("db")
async def test_login_with_hash_made_by_bcrypt_ts_succeeds(
    app: FastAPI, client: httpx.AsyncClient, clients_dir: Path
) -> None:
    hashed = _node_hash(clients_dir, "from-nextjs-app")
    assert hashed.startswith("$2a$10$")
    async with app.state.session_factory() as session:
        session.add(User(email="nextjs@example.com", password=hashed))
        await session.commit()

    response = await client.post(
        "/api/auth/login", json={"email": "nextjs@example.com", "password": "from-nextjs-app"}
    )
    assert response.status_code == 200
    wrong = await client.post(
        "/api/auth/login", json={"email": "nextjs@example.com", "password": "from-nextjs-apq"}
    )
    assert wrong.status_code == 401


def test_hash_made_here_verifies_under_bcrypt_ts(clients_dir: Path) -> None:
    hashed = hash_password("made-in-python")
    assert hashed.startswith("$2a$10$")
    assert len(hashed) == 60
    assert _node_compare(clients_dir, "made-in-python", hashed)
    assert not _node_compare(clients_dir, "made-in-pythoN", hashed)


def test_long_password_truncates_at_72_bytes_like_bcrypt_ts(clients_dir: Path) -> None:
    same_first_72_bytes = LONG_PASSWORD[:71] + "different tail"
    ours = hash_password(LONG_PASSWORD)
    theirs = _node_hash(clients_dir, LONG_PASSWORD)

    assert _node_compare(clients_dir, LONG_PASSWORD, ours)
    assert _node_compare(clients_dir, same_first_72_bytes, ours)
    assert verify_password(LONG_PASSWORD, theirs)
    assert verify_password(same_first_72_bytes, theirs)
    assert not verify_password(LONG_PASSWORD[:70], theirs)
