"""The simple API: `POST/GET /api/threads` on the cloud thread store, and the README's curl
walk-through (threads, then a role/content chat) run as written against a live server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from chatbot_api.core.config import Settings
from tests.chats.conftest import live_server, parse_sse, text_of
from tests.factories import make_user

README = Path(__file__).resolve().parents[2] / "README.md"


async def test_create_then_list_threads_shows_them_newest_first(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    created = []
    for title in ("First", None):
        body = {"title": title} if title else None
        response = await client.post("/api/threads", json=body, headers=user.headers)
        assert response.status_code == 201
        payload = response.json()
        assert set(payload) == {"id", "title", "created_at"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", payload["created_at"])
        created.append(payload)
    assert created[0]["title"] == "First"
    assert created[1]["title"] is None
    response = await client.get("/api/threads", headers=user.headers)
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["threads"]] == [c["id"] for c in created[::-1]]
    page = (await client.get("/api/threads?limit=1", headers=user.headers)).json()["threads"]
    after = page[0]["id"]
    rest = await client.get(f"/api/threads?limit=1&after={after}", headers=user.headers)
    assert [t["id"] for t in rest.json()["threads"]] == [created[0]["id"]]
    # The same store as the cloud client's /v1/threads.
    cloud = await client.get(f"/v1/threads/{created[0]['id']}", headers=user.headers)
    assert cloud.json()["thread"]["title"] == "First"


async def test_threads_are_the_callers_only_and_need_a_token(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    other = await make_user(app)
    await client.post("/api/threads", json={"title": "Mine"}, headers=owner.headers)
    assert (await client.get("/api/threads", headers=other.headers)).json() == {"threads": []}
    assert (await client.get("/api/threads")).status_code == 401
    assert (await client.post("/api/threads", json={})).status_code == 401
    response = await client.get("/api/threads?limit=101", headers=owner.headers)
    assert response.status_code == 400


async def test_simple_chat_body_streams_a_reply_into_the_thread_id(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    thread = (await client.post("/api/threads", json={}, headers=user.headers)).json()
    body = {"id": thread["id"], "messages": [{"role": "user", "content": "Hello"}]}
    response = await client.post("/api/chat", json=body, headers=user.headers)
    assert response.status_code == 200
    chunks = parse_sse(response.content)
    assert chunks[0]["type"] == "start"
    assert chunks[-1]["type"] == "finish"
    assert text_of(chunks)
    history = await client.get(f"/api/chat/{thread['id']}", headers=user.headers)
    assert history.status_code == 200


def _readme_script(base_url: str) -> str:
    """The guest-token line of "Try it" and the whole "simple API" block, as written."""
    text = README.read_text()
    token = next(line for line in text.splitlines() if line.startswith("TOKEN=$(curl"))
    section = text.split("### The simple API", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    host = base_url.removeprefix("http://")
    return f"{token}\n{block}".replace("localhost:8000", host)


def test_readme_simple_api_curl_examples_work_as_written(db: Any, settings: Settings) -> None:
    with live_server(settings) as base_url:
        script = _readme_script(base_url)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout
    listing, _, stream = out.partition(b"}]}")
    threads = orjson.loads(listing + b"}]}")["threads"]
    assert [t["title"] for t in threads] == ["Greetings"]
    chunks = parse_sse(stream)
    assert chunks[0]["type"] == "start"
    assert text_of(chunks)
    assert chunks[-1]["type"] == "finish"
