"""Proxy mode: with ASSISTANT_UI_BASE_URL the `/v1` threads API (and `/api/threads`) store in
that hosted cloud — here a second instance of this service on its own database."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from chatbot_api.cloud.models import CloudMessage, CloudThread
from chatbot_api.core.config import Settings
from chatbot_api.db.engine import create_engine
from chatbot_api.db.migrate import upgrade_head
from tests.chats.conftest import live_server
from tests.chats.helpers import count_rows
from tests.conftest import TEST_SECRET
from tests.factories import make_user
from tests.fakes.http import FakeHTTPServer, Reply, json_reply

UPSTREAM_KEY = "upstream-api-key-0123456789"


class Upstream:
    def __init__(self, base_url: str, settings: Settings) -> None:
        self.base_url = base_url
        self.engine = create_engine(settings.database_url)

    async def count(self, model: Any) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[Upstream]:
    """A second instance of this service (its own SQLite database) as the hosted cloud."""
    data = tmp_path / "upstream"
    settings = Settings(
        environment="test",
        data_dir=data,
        jwt_secret_key=TEST_SECRET + "-upstream",
        log_level="WARNING",
        assistant_cloud_api_keys=f"ws:{UPSTREAM_KEY}",
    )
    data.mkdir(parents=True)
    engine = create_engine(settings.database_url)
    await upgrade_head(engine)
    await engine.dispose()
    with live_server(settings) as base_url:
        upstream = Upstream(base_url, settings)
        yield upstream
        await upstream.engine.dispose()


@pytest.fixture
def settings_overrides(upstream: Upstream) -> dict[str, Any]:
    return {
        "assistant_ui_base_url": upstream.base_url + "/",
        "assistant_ui_api_key": UPSTREAM_KEY,
        "assistant_ui_workspace_id": "ws",
        "assistant_ui_timeout_seconds": 5,
    }


async def test_threads_and_messages_are_stored_in_the_upstream_cloud(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    user = await make_user(app)
    h = user.headers
    created = await client.post("/v1/threads", json={"external_id": "ext-1"}, headers=h)
    assert created.status_code == 201, created.text
    thread_id = created.json()["thread_id"]
    put = await client.put(f"/v1/threads/{thread_id}", json={"title": "T"}, headers=h)
    assert put.status_code == 204
    thread = (await client.get(f"/v1/threads/{thread_id}", headers=h)).json()["thread"]
    assert (thread["title"], thread["external_id"], thread["is_archived"]) == ("T", "ext-1", False)
    content = {"role": "user", "parts": [{"type": "text", "text": "hi"}]}
    body = {"parent_id": None, "format": "ai-sdk/v6", "content": content}
    m1 = (await client.post(f"/v1/threads/{thread_id}/messages", json=body, headers=h)).json()
    body = {**body, "parent_id": m1["message_id"]}
    m2 = (await client.post(f"/v1/threads/{thread_id}/messages", json=body, headers=h)).json()
    listed = await client.get(f"/v1/threads/{thread_id}/messages?format=ai-sdk/v6", headers=h)
    messages = listed.json()["messages"]
    assert [m["id"] for m in messages] == [m2["message_id"], m1["message_id"]]
    assert [m["height"] for m in messages] == [1, 0]
    threads = (await client.get("/v1/threads", headers=h)).json()["threads"]
    assert [t["id"] for t in threads] == [thread_id]
    simple = (await client.get("/api/threads", headers=h)).json()["threads"]
    assert [t["id"] for t in simple] == [thread_id]
    # Stored upstream, not here.
    assert await upstream.count(CloudThread) == 1
    assert await upstream.count(CloudMessage) == 2
    assert await count_rows(app, CloudThread) == 0
    # Another user of ours is another user upstream.
    other = await make_user(app)
    assert (await client.get("/v1/threads", headers=other.headers)).json() == {"threads": []}
    missing = await client.get(f"/v1/threads/{thread_id}", headers=other.headers)
    assert missing.status_code == 404
    assert missing.json()["message"] == "Thread not found"
    deleted = await client.delete(f"/v1/threads/{thread_id}", headers=h)
    assert deleted.status_code == 204
    assert await upstream.count(CloudThread) == 0


@pytest.mark.parametrize(
    "settings_overrides",
    [{"assistant_ui_base_url": "http://127.0.0.1:1", "assistant_ui_api_key": "k"}],
)
async def test_unreachable_upstream_is_a_clear_502(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    response = await client.get("/v1/threads", headers=user.headers)
    assert response.status_code == 502
    payload = response.json()
    assert payload["error"] == "offline:assistant_cloud"
    assert "could not be reached" in payload["message"]


@pytest.fixture
def flaky() -> Iterator[FakeHTTPServer]:
    def handler(request: Any) -> Reply:
        if request.path == "/v1/auth/tokens":
            return json_reply(200, {"token": "a.eyJleHAiOjQxMDI0NDQ4MDB9.c"})
        if request.path.startswith("/v1/threads/slow"):
            return Reply(status=200, chunks=[b"{}"], content_type="application/json", first_delay=3)
        return json_reply(503, {"message": "maintenance"})

    with FakeHTTPServer(default=handler) as server:
        yield server


async def test_upstream_5xx_is_retried_then_502_and_slowness_is_504(
    db: Any, app: FastAPI, client: httpx.AsyncClient, flaky: FakeHTTPServer
) -> None:
    settings = app.state.settings
    settings.assistant_ui_base_url = flaky.origin
    settings.assistant_ui_api_key = None
    settings.assistant_ui_timeout_seconds = 0.5
    settings.assistant_ui_retries = 1
    user = await make_user(app)
    response = await client.get("/v1/threads", headers=user.headers)
    assert response.status_code == 502
    assert response.json()["message"] == "The Assistant Cloud failed (503)."
    gets = [r for r in flaky.requests if r.method == "GET"]
    assert len(gets) == 2  # one retry
    response = await client.post("/v1/threads", json={}, headers=user.headers)
    assert response.status_code == 502
    assert len([r for r in flaky.requests if r.method == "POST" and "threads" in r.path]) == 1
    began = time.monotonic()
    response = await client.get("/v1/threads/slow", headers=user.headers)
    assert response.status_code == 504
    assert response.json()["error"] == "timeout:assistant_cloud"
    assert time.monotonic() - began < 3
