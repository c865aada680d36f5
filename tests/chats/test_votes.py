"""GET/PATCH /api/vote: votes of a chat, readable on public chats; voting on own messages."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Vote
from tests.chats.helpers import count_rows, count_statements, make_vote
from tests.factories import make_chat, make_message, make_user

pytestmark = pytest.mark.usefixtures("db")

REQUIRED = "Parameters chatId, messageId, and type are required."


# --- GET /api/vote ---------------------------------------------------------------------------


async def test_get_votes_returns_the_owners_votes(app: FastAPI, client: httpx.AsyncClient) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    up = await make_message(app, chat, role="assistant")
    down = await make_message(app, chat, role="assistant")
    await make_vote(app, up, up=True)
    await make_vote(app, down, up=False)

    with count_statements(app) as log:
        response = await client.get(f"/api/vote?chatId={chat.id}", headers=me.headers)

    assert response.status_code == 200
    assert sorted(response.json(), key=lambda vote: vote["isUpvoted"]) == [
        {"chatId": str(chat.id), "messageId": str(down.id), "isUpvoted": False},
        {"chatId": str(chat.id), "messageId": str(up.id), "isUpvoted": True},
    ]
    assert len(log.chat_statements) <= 2


async def test_get_votes_of_a_chat_without_votes_is_empty(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)

    response = await client.get(f"/api/vote?chatId={chat.id}", headers=me.headers)

    assert response.status_code == 200
    assert response.json() == []


async def test_get_votes_of_another_users_public_chat_is_readable(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, reader = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, visibility="public")
    message = await make_message(app, chat, role="assistant")
    await make_vote(app, message)

    response = await client.get(f"/api/vote?chatId={chat.id}", headers=reader.headers)

    assert response.status_code == 200
    assert response.json() == [
        {"chatId": str(chat.id), "messageId": str(message.id), "isUpvoted": True}
    ]


async def test_get_votes_of_another_users_private_chat_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner)
    message = await make_message(app, chat, role="assistant")
    await make_vote(app, message)

    response = await client.get(f"/api/vote?chatId={chat.id}", headers=other.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"
    assert str(message.id) not in response.text


async def test_get_votes_without_chat_id_is_bad_request_before_auth(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/vote")

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request:api",
        "message": "The request couldn't be processed. Please check your input and try again.",
        "cause": "Parameter chatId is required.",
    }


async def test_get_votes_with_non_uuid_chat_id_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.get("/api/vote?chatId=42", headers=me.headers)

    assert response.status_code == 400
    assert "chatId" in response.json()["cause"]


async def test_get_votes_without_user_is_unauthorized(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    chat = await make_chat(app, owner, visibility="public")

    response = await client.get(f"/api/vote?chatId={chat.id}")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:vote"


async def test_get_votes_of_unknown_chat_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.get(f"/api/vote?chatId={uuid.uuid4()}", headers=me.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"


# --- PATCH /api/vote -------------------------------------------------------------------------


async def test_vote_sent_as_text_plain_is_stored_and_answers_plain_text(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    message = await make_message(app, chat, role="assistant")
    body = f'{{"chatId":"{chat.id}","messageId":"{message.id}","type":"up"}}'

    response = await client.patch(
        "/api/vote",
        content=body.encode(),
        headers={**me.headers, "Content-Type": "text/plain;charset=UTF-8"},
    )

    assert response.status_code == 200
    assert response.text == "Message voted"
    assert response.headers["content-type"].startswith("text/plain")
    votes = (await client.get(f"/api/vote?chatId={chat.id}", headers=me.headers)).json()
    assert votes == [{"chatId": str(chat.id), "messageId": str(message.id), "isUpvoted": True}]


async def test_vote_again_replaces_the_earlier_vote(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    message = await make_message(app, chat, role="assistant")
    body = {"chatId": str(chat.id), "messageId": str(message.id)}

    first = await client.patch("/api/vote", json={**body, "type": "up"}, headers=me.headers)
    second = await client.patch("/api/vote", json={**body, "type": "down"}, headers=me.headers)

    assert (first.status_code, second.status_code) == (200, 200)
    votes = (await client.get(f"/api/vote?chatId={chat.id}", headers=me.headers)).json()
    assert votes == [{"chatId": str(chat.id), "messageId": str(message.id), "isUpvoted": False}]


@pytest.mark.parametrize(
    "body",
    [
        {"messageId": str(uuid.uuid4()), "type": "up"},
        {"chatId": str(uuid.uuid4()), "type": "up"},
        {"chatId": str(uuid.uuid4()), "messageId": str(uuid.uuid4())},
        {"chatId": "", "messageId": str(uuid.uuid4()), "type": "up"},
        {},
    ],
)
async def test_vote_with_missing_field_is_bad_request_before_auth(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.patch("/api/vote", json=body)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"] == REQUIRED


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("type", "sideways", "type"), ("chatId", "nope", "chatId"), ("messageId", "7", "messageId")],
)
async def test_vote_with_invalid_field_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient, field: str, value: str, named: str
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    message = await make_message(app, chat, role="assistant")
    body = {"chatId": str(chat.id), "messageId": str(message.id), "type": "up", field: value}

    response = await client.patch("/api/vote", json=body, headers=me.headers)

    assert response.status_code == 400
    assert named in response.json()["cause"]
    assert await count_rows(app, Vote) == 0


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'"up"'])
async def test_vote_with_malformed_body_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient, content: bytes
) -> None:
    me = await make_user(app)
    response = await client.patch("/api/vote", content=content, headers=me.headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"


async def test_vote_without_user_is_unauthorized(app: FastAPI, client: httpx.AsyncClient) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    message = await make_message(app, chat, role="assistant")
    body = {"chatId": str(chat.id), "messageId": str(message.id), "type": "up"}

    response = await client.patch("/api/vote", json=body)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:vote"
    assert await count_rows(app, Vote) == 0


async def test_vote_on_unknown_chat_is_not_found(app: FastAPI, client: httpx.AsyncClient) -> None:
    me = await make_user(app)
    body = {"chatId": str(uuid.uuid4()), "messageId": str(uuid.uuid4()), "type": "up"}

    response = await client.patch("/api/vote", json=body, headers=me.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:vote"


async def test_vote_in_another_users_chat_is_forbidden(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, visibility="public")
    message = await make_message(app, chat, role="assistant")
    body = {"chatId": str(chat.id), "messageId": str(message.id), "type": "down"}

    response = await client.patch("/api/vote", json=body, headers=other.headers)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:vote"
    assert await count_rows(app, Vote) == 0


async def test_vote_on_a_message_of_another_chat_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat, elsewhere = await make_chat(app, me), await make_chat(app, me)
    foreign = await make_message(app, elsewhere, role="assistant")
    body = {"chatId": str(chat.id), "messageId": str(foreign.id), "type": "up"}

    response = await client.patch("/api/vote", json=body, headers=me.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:vote"
    assert await count_rows(app, Vote) == 0
