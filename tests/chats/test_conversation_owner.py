"""One conversation id, one owner: a chat and an assistant-cloud thread with the same id are
one conversation, and no route lets another user take the id, whichever is made first."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Chat, Message
from tests.chats.conftest import chat_body, send, stored_chat, turn_overrides
from tests.chats.helpers import count_rows
from tests.factories import TestUser, make_user


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return turn_overrides()


async def _v1_thread(client: httpx.AsyncClient, user: TestUser) -> str:
    response = await client.post("/v1/threads", json={}, headers=user.headers)
    assert response.status_code == 201, response.text
    thread_id: str = response.json()["thread_id"]
    return thread_id


async def _simple_thread(client: httpx.AsyncClient, user: TestUser) -> str:
    response = await client.post("/api/threads", json={"title": "Mine"}, headers=user.headers)
    assert response.status_code == 201, response.text
    thread_id: str = response.json()["id"]
    return thread_id


def _simple_body(thread_id: str) -> dict[str, Any]:
    return {"id": thread_id, "messages": [{"role": "user", "content": "Hello"}]}


@pytest.mark.parametrize("make_thread", [_v1_thread, _simple_thread], ids=["v1", "api"])
@pytest.mark.parametrize("body", [chat_body, _simple_body], ids=["chatbot-body", "simple-body"])
async def test_another_users_thread_id_cannot_be_squatted(
    db: Any, app: FastAPI, client: httpx.AsyncClient, make_thread: Any, body: Any
) -> None:
    owner, squatter = await make_user(app), await make_user(app)
    thread_id = await make_thread(client, owner)
    refused = await client.post("/api/chat", json=_body(body, thread_id), headers=squatter.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden:chat")
    assert await count_rows(app, Chat) == 0
    assert await count_rows(app, Message) == 0
    response, chunks = await send(client, owner, _body(body, thread_id))
    assert response.status_code == 200  # the thread's owner chats in it as before
    assert chunks[-1]["type"] == "finish"
    chat = await stored_chat(app, thread_id)
    assert chat is not None
    assert chat.user_id == owner.id
    assert (await client.get(f"/v1/threads/{thread_id}", headers=owner.headers)).status_code == 200


def _body(make: Any, thread_id: str) -> dict[str, Any]:
    if make is chat_body:
        built: dict[str, Any] = chat_body(chat_id=thread_id)
        return built
    result: dict[str, Any] = make(thread_id)
    return result


async def test_a_chat_made_first_keeps_its_owner_on_every_route(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The chat exists first (made by its owner): another user gets no thread under its id
    and cannot post into it by any body."""
    owner, other = await make_user(app), await make_user(app)
    body = chat_body("Mine")
    response, _ = await send(client, owner, body)
    assert response.status_code == 200
    chat_id = body["id"]
    for attempt in (chat_body("Mine now", chat_id=chat_id), _simple_body(chat_id)):
        refused = await client.post("/api/chat", json=attempt, headers=other.headers)
        assert refused.status_code == 403
    message = {"message": {"role": "user", "content": [{"type": "text", "text": "hi"}]}}
    posted = await client.post(
        f"/v1/threads/{chat_id}/messages",
        json={"parent_id": None, "format": "aui/v0", "content": message},
        headers=other.headers,
    )
    assert posted.status_code == 404
    assert (await client.get(f"/v1/threads/{chat_id}", headers=other.headers)).status_code == 404
    assert await count_rows(app, Message, chat_id=uuid.UUID(chat_id)) == 2  # the owner's turn


async def test_claiming_anonymous_threads_moves_their_chats_too(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """An anonymous visitor chats in a thread, then signs in and claims it: the chat with the
    thread's id moves along, and its new owner goes on chatting in it."""
    anonymous = (await client.post("/v1/auth/tokens/anonymous")).json()
    headers = {"Authorization": f"Bearer {anonymous['access_token']}"}
    thread_id = (await client.post("/v1/threads", json={}, headers=headers)).json()["thread_id"]
    first = await client.post("/api/chat", json=_simple_body(thread_id), headers=headers)
    assert first.status_code == 200
    alice = await make_user(app)
    claimed = await client.post(
        "/v1/threads/claim",
        json={"refresh_token": anonymous["refresh_token"]["token"]},
        headers=alice.headers,
    )
    assert claimed.json() == {"moved": 1}
    chat = await stored_chat(app, thread_id)
    assert chat is not None
    assert chat.user_id == alice.id
    response, _ = await send(client, alice, _simple_body(thread_id))
    assert response.status_code == 200
    assert (await client.get(f"/api/chat/{thread_id}", headers=alice.headers)).status_code == 200
