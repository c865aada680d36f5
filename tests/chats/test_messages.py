"""DELETE /api/chat/{id}/messages?after=: the "edit message" action (that message and later)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Message, MessageUsage
from tests.chats.helpers import at, count_rows, make_usage, make_vote
from tests.factories import make_chat, make_message, make_user

pytestmark = pytest.mark.usefixtures("db")


async def test_delete_trailing_removes_the_message_and_later_ones_with_votes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    kept = [
        await make_message(app, chat, role="user", created_at=at(1)),
        await make_message(app, chat, role="assistant", created_at=at(2)),
    ]
    edited = await make_message(app, chat, role="user", text="old", created_at=at(3))
    same_instant = await make_message(app, chat, role="assistant", created_at=at(3))
    later = await make_message(app, chat, role="assistant", created_at=at(4))
    for message in (kept[1], same_instant, later):
        await make_vote(app, message)
    await make_usage(app, later, me.id)

    response = await client.delete(
        f"/api/chat/{chat.id}/messages?after={edited.id}", headers=me.headers
    )

    assert response.status_code == 200
    assert response.json() == {"deletedCount": 3}
    body = (await client.get(f"/api/chat/{chat.id}", headers=me.headers)).json()
    assert [m["id"] for m in body["messages"]] == [str(m.id) for m in kept]
    votes = (await client.get(f"/api/vote?chatId={chat.id}", headers=me.headers)).json()
    assert [v["messageId"] for v in votes] == [str(kept[1].id)]
    assert await count_rows(app, MessageUsage, chat_id=chat.id) == 0


async def test_delete_trailing_then_reposting_the_same_message_id_works(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    edited = await make_message(app, chat, text="first draft", created_at=at(1))
    await make_vote(app, await make_message(app, chat, role="assistant", created_at=at(2)))

    response = await client.delete(
        f"/api/chat/{chat.id}/messages?after={edited.id}", headers=me.headers
    )
    assert response.status_code == 200

    async with app.state.session_factory() as session:
        session.add(
            Message(
                id=edited.id,
                chat_id=chat.id,
                role="user",
                parts=[{"type": "text", "text": "second draft"}],
                attachments=[],
                created_at=at(3),
            )
        )
        await session.commit()
    body = (await client.get(f"/api/chat/{chat.id}", headers=me.headers)).json()
    assert [(m["id"], m["parts"][0]["text"]) for m in body["messages"]] == [
        (str(edited.id), "second draft")
    ]


async def test_delete_trailing_with_message_of_another_chat_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat, elsewhere = await make_chat(app, me), await make_chat(app, me)
    await make_message(app, chat)
    foreign = await make_message(app, elsewhere)

    response = await client.delete(
        f"/api/chat/{chat.id}/messages?after={foreign.id}", headers=me.headers
    )

    assert response.status_code == 404
    assert str(foreign.id) in response.json()["cause"]
    assert await count_rows(app, Message) == 2


async def test_delete_trailing_in_another_users_chat_is_forbidden(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, visibility="public")
    message = await make_message(app, chat, text="do not touch")

    response = await client.delete(
        f"/api/chat/{chat.id}/messages?after={message.id}", headers=other.headers
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:chat"
    assert "do not touch" not in response.text
    assert await count_rows(app, Message, chat_id=chat.id) == 1


async def test_delete_trailing_in_missing_chat_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.delete(
        f"/api/chat/{uuid.uuid4()}/messages?after={uuid.uuid4()}", headers=me.headers
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"


@pytest.mark.parametrize("query", ["", "?after=", "?after=nope"])
async def test_delete_trailing_without_valid_after_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient, query: str
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    await make_message(app, chat)

    response = await client.delete(f"/api/chat/{chat.id}/messages{query}", headers=me.headers)

    assert response.status_code == 400
    assert "after" in response.json()["cause"]
    assert await count_rows(app, Message, chat_id=chat.id) == 1


async def test_delete_trailing_without_user_is_unauthorized(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    message = await make_message(app, chat)

    response = await client.delete(f"/api/chat/{chat.id}/messages?after={message.id}")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"
    assert await count_rows(app, Message, chat_id=chat.id) == 1
