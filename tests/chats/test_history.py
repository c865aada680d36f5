"""GET/DELETE /api/history: the caller's chats, keyset pages in both directions, delete-all."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Chat, LegacyMessage, LegacyVote, Message, Stream, Vote
from chatbot_api.documents.models import Document
from tests import factories
from tests.chats.helpers import (
    ISO_MS,
    at,
    count_rows,
    count_statements,
    make_legacy_rows,
    make_stream,
    make_vote,
)
from tests.factories import make_chat, make_document, make_message, make_user

pytestmark = pytest.mark.usefixtures("db")


async def make_tied_chats(app: FastAPI, user: factories.TestUser, count: int = 25) -> list[str]:
    """`count` chats where runs of 3 share one createdAt; returns ids newest first."""
    chats = [
        await make_chat(app, user, title=f"chat {n}", created_at=at(n // 3)) for n in range(count)
    ]
    ordered = sorted(chats, key=lambda chat: (chat.created_at, chat.id), reverse=True)
    return [str(chat.id) for chat in ordered]


async def test_history_lists_only_callers_chats_newest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me, other = await make_user(app), await make_user(app)
    old = await make_chat(app, me, title="old", created_at=at(1, 5))
    new = await make_chat(app, me, title="new", visibility="public", created_at=at(2))
    await make_chat(app, other, title="not mine", created_at=at(3))

    response = await client.get("/api/history", headers=me.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["hasMore"] is False
    assert [chat["id"] for chat in body["chats"]] == [str(new.id), str(old.id)]
    assert body["chats"][0] == {
        "id": str(new.id),
        "createdAt": "2026-01-15T12:00:02.000Z",
        "title": "new",
        "userId": str(me.id),
        "visibility": "public",
    }
    assert body["chats"][1]["createdAt"] == "2026-01-15T12:00:01.005Z"
    assert all(ISO_MS.match(chat["createdAt"]) for chat in body["chats"])


async def test_history_defaults_to_ten_chats(app: FastAPI, client: httpx.AsyncClient) -> None:
    me = await make_user(app)
    for n in range(11):
        await make_chat(app, me, created_at=at(n))

    body = (await client.get("/api/history", headers=me.headers)).json()

    assert len(body["chats"]) == 10
    assert body["hasMore"] is True


async def test_history_pages_older_through_tied_timestamps(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    expected = await make_tied_chats(app, me)

    seen: list[str] = []
    pages = 0
    url = "/api/history?limit=7"
    while True:
        body = (await client.get(url, headers=me.headers)).json()
        pages += 1
        seen += [chat["id"] for chat in body["chats"]]
        if not body["hasMore"]:
            break
        url = f"/api/history?limit=7&ending_before={seen[-1]}"

    assert seen == expected
    assert pages == 4


async def test_history_pages_newer_through_tied_timestamps(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    expected = await make_tied_chats(app, me)

    # Walk up from the oldest chat: each page is the one just newer, returned newest first.
    cursor = expected[-1]
    seen: list[str] = [cursor]
    while True:
        url = f"/api/history?limit=4&starting_after={cursor}"
        body = (await client.get(url, headers=me.headers)).json()
        page = [chat["id"] for chat in body["chats"]]
        seen = page + seen
        if not body["hasMore"]:
            break
        cursor = page[0]

    assert seen == expected


async def test_history_starting_after_returns_the_adjacent_page(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    ids = [str((await make_chat(app, me, created_at=at(n))).id) for n in range(10)]

    response = await client.get(f"/api/history?limit=2&starting_after={ids[3]}", headers=me.headers)

    body = response.json()
    assert [chat["id"] for chat in body["chats"]] == [ids[5], ids[4]]
    assert body["hasMore"] is True


async def test_history_with_both_cursors_is_rejected_before_auth(client: httpx.AsyncClient) -> None:
    cursor = uuid.uuid4()
    response = await client.get(f"/api/history?starting_after={cursor}&ending_before={cursor}")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"] == (
        "Only one of starting_after or ending_before can be provided."
    )


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "2.5", ""])
async def test_history_with_bad_limit_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, limit: str
) -> None:
    me = await make_user(app)
    response = await client.get(f"/api/history?limit={limit}", headers=me.headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert "limit" in response.json()["cause"]


async def test_history_accepts_limit_of_one_hundred(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    await make_chat(app, me)
    response = await client.get("/api/history?limit=100", headers=me.headers)

    assert response.status_code == 200
    assert len(response.json()["chats"]) == 1


@pytest.mark.parametrize("param", ["starting_after", "ending_before"])
async def test_history_with_non_uuid_cursor_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, param: str
) -> None:
    me = await make_user(app)
    response = await client.get(f"/api/history?{param}=not-a-uuid", headers=me.headers)

    assert response.status_code == 400
    assert param in response.json()["cause"]


@pytest.mark.parametrize("param", ["starting_after", "ending_before"])
async def test_history_with_another_users_chat_as_cursor_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, param: str
) -> None:
    me, other = await make_user(app), await make_user(app)
    # My chats on both sides of theirs: a cursor looked up without the user filter would
    # give a non-empty page in either direction.
    await make_chat(app, me, created_at=at(1))
    theirs = await make_chat(app, other, title="secret", created_at=at(2))
    await make_chat(app, me, created_at=at(3))

    response = await client.get(f"/api/history?{param}={theirs.id}", headers=me.headers)

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request:api",
        "message": "The request couldn't be processed. Please check your input and try again.",
        "cause": f"{param} must be the id of one of your chats.",
    }
    assert "secret" not in response.text


@pytest.mark.parametrize("param", ["starting_after", "ending_before"])
async def test_history_with_unknown_cursor_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, param: str
) -> None:
    me = await make_user(app)
    await make_chat(app, me, created_at=at(1))

    response = await client.get(f"/api/history?{param}={uuid.uuid4()}", headers=me.headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"] == f"{param} must be the id of one of your chats."


@pytest.mark.parametrize(
    ("param", "edge"), [("ending_before", "oldest"), ("starting_after", "newest")]
)
async def test_history_cursor_at_the_end_gives_an_empty_page(
    app: FastAPI, client: httpx.AsyncClient, param: str, edge: str
) -> None:
    me, other = await make_user(app), await make_user(app)
    ids = [str((await make_chat(app, me, created_at=at(n))).id) for n in range(1, 4)]
    # Someone else's chats beyond mine in both directions must not show up.
    await make_chat(app, other, created_at=at(0))
    await make_chat(app, other, created_at=at(9))
    cursor = ids[0] if edge == "oldest" else ids[-1]

    response = await client.get(f"/api/history?limit=2&{param}={cursor}", headers=me.headers)

    assert response.status_code == 200
    assert response.json() == {"chats": [], "hasMore": False}


@pytest.mark.parametrize("param", ["starting_after", "ending_before"])
async def test_history_cursor_next_to_the_end_gives_the_last_chat(
    app: FastAPI, client: httpx.AsyncClient, param: str
) -> None:
    me = await make_user(app)
    ids = [str((await make_chat(app, me, created_at=at(n))).id) for n in range(3)]
    cursor, last = (ids[1], ids[0]) if param == "ending_before" else (ids[1], ids[2])

    response = await client.get(f"/api/history?limit=2&{param}={cursor}", headers=me.headers)

    assert response.status_code == 200
    assert [chat["id"] for chat in response.json()["chats"]] == [last]
    assert response.json()["hasMore"] is False


async def test_history_without_user_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/history")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"


@pytest.mark.parametrize("param", [None, "starting_after", "ending_before"])
async def test_history_page_is_one_statement(
    app: FastAPI, client: httpx.AsyncClient, param: str | None
) -> None:
    me = await make_user(app)
    chats = [await make_chat(app, me, created_at=at(n)) for n in range(30)]
    url = "/api/history?limit=20"
    if param is not None:
        url += f"&{param}={chats[-1].id if param == 'ending_before' else chats[0].id}"

    with count_statements(app) as log:
        response = await client.get(url, headers=me.headers)

    assert len(response.json()["chats"]) == 20
    assert len(log.chat_statements) == 1


async def test_history_empty_or_rejected_cursor_page_takes_a_second_statement(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    oldest = await make_chat(app, me, created_at=at(1))

    with count_statements(app) as log:
        empty = await client.get(f"/api/history?ending_before={oldest.id}", headers=me.headers)
    assert empty.status_code == 200
    assert len(log.chat_statements) == 2

    with count_statements(app) as log:
        rejected = await client.get(
            f"/api/history?ending_before={uuid.uuid4()}", headers=me.headers
        )
    assert rejected.status_code == 400
    assert len(log.chat_statements) == 2


async def test_delete_history_removes_callers_chats_with_their_rows(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me, other = await make_user(app), await make_user(app)
    mine = [await make_chat(app, me, created_at=at(n)) for n in range(3)]
    for chat in mine:
        message = await make_message(app, chat, role="assistant")
        await make_vote(app, message)
        await make_stream(app, chat)
    await make_legacy_rows(app, mine[0])
    theirs = await make_chat(app, other)
    their_message = await make_message(app, theirs)
    await make_vote(app, their_message)
    await make_document(app, me)

    response = await client.delete("/api/history", headers=me.headers)

    assert response.status_code == 200
    assert response.json() == {"deletedCount": 3}
    assert await count_rows(app, Chat, user_id=me.id) == 0
    for model in (Message, Vote, Stream, LegacyMessage, LegacyVote):
        assert await count_rows(app, model) == (1 if model in (Message, Vote) else 0)
    assert await count_rows(app, Chat, id=theirs.id) == 1
    assert await count_rows(app, Document, user_id=me.id) == 1
    listed = (await client.get("/api/history", headers=other.headers)).json()
    assert [chat["id"] for chat in listed["chats"]] == [str(theirs.id)]


async def test_delete_history_without_chats_returns_zero(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.delete("/api/history", headers=me.headers)

    assert response.status_code == 200
    assert response.json() == {"deletedCount": 0}


async def test_delete_history_without_user_is_unauthorized(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    await make_chat(app, me)

    response = await client.delete("/api/history")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"
    assert await count_rows(app, Chat, user_id=me.id) == 1
