"""GET /api/chat/{id}, DELETE /api/chat?id=, PATCH /api/chat/{id}/visibility."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import (
    Chat,
    LegacyMessage,
    LegacyVote,
    Message,
    MessageUsage,
    Stream,
    Vote,
)
from chatbot_api.db.types import iso_ms
from tests.chats.helpers import (
    add,
    at,
    count_rows,
    count_statements,
    make_legacy_rows,
    make_stream,
    make_usage,
    make_vote,
)
from tests.factories import make_chat, make_message, make_user

pytestmark = pytest.mark.usefixtures("db")


# --- GET /api/chat/{id} ----------------------------------------------------------------------


async def test_get_chat_returns_owner_chat_with_messages_oldest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me, title="Trip", created_at=at(0))
    parts = [{"type": "text", "text": "Sure!"}, {"type": "reasoning", "text": "hm"}]
    second = await make_message(app, chat, role="assistant", parts=parts, created_at=at(2, 250))
    first = await make_message(app, chat, role="user", text="Plan a trip", created_at=at(1))

    response = await client.get(f"/api/chat/{chat.id}", headers=me.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["isReadonly"] is False
    assert body["chat"] == {
        "id": str(chat.id),
        "createdAt": "2026-01-15T12:00:00.000Z",
        "title": "Trip",
        "userId": str(me.id),
        "visibility": "private",
    }
    assert body["messages"] == [
        {
            "id": str(first.id),
            "role": "user",
            "parts": [{"type": "text", "text": "Plan a trip"}],
            "attachments": [],
            "createdAt": "2026-01-15T12:00:01.000Z",
            "metadata": {"createdAt": "2026-01-15T12:00:01.000Z"},
        },
        {
            "id": str(second.id),
            "role": "assistant",
            "parts": parts,
            "attachments": [],
            "createdAt": "2026-01-15T12:00:02.250Z",
            "metadata": {"createdAt": "2026-01-15T12:00:02.250Z"},
        },
    ]


async def test_get_chat_passes_stored_json_through_with_every_value_intact(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Parts and attachments go out as stored (not decoded and re-encoded): every JSON value
    kind, escapes and non-ASCII text survive; ids and timestamps are formatted by the database
    exactly as `str(uuid)` and `iso_ms` give them."""
    me = await make_user(app)
    chat = await make_chat(app, me, created_at=at(0))
    tricky_parts: list[dict[str, Any]] = [
        {"type": "text", "text": 'quote " backslash \\ tab \t newline \n \u2028 é 漢字 🙂'},
        {"type": "tool-x", "input": {"n": 3, "f": 1.5, "neg": -0.25, "big": 2**53}},
        {"type": "data-x", "data": {"ok": True, "no": False, "none": None, "list": [1, [2, {}]]}},
    ]
    attachments = [{"url": "https://example.com/a b.png", "name": "a b.png", "size": 10}]
    stamps = [at(1, 1), at(2, 999), at(3, 123), datetime(2026, 12, 31, 23, 59, 59, 999000, UTC)]
    messages = [
        Message(
            id=uuid.uuid4(),
            chat_id=chat.id,
            role="assistant" if n % 2 else "user",
            parts=tricky_parts if n == 0 else [],
            attachments=attachments if n == 0 else [],
            created_at=stamp,
        )
        for n, stamp in enumerate(stamps)
    ]
    await add(app, *messages)

    response = await client.get(f"/api/chat/{chat.id}", headers=me.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["messages"] == [
        {
            "id": str(message.id),
            "role": message.role,
            "parts": message.parts,
            "attachments": message.attachments,
            "createdAt": iso_ms(message.created_at),
            "metadata": {"createdAt": iso_ms(message.created_at)},
        }
        for message in messages
    ]
    assert [m["createdAt"] for m in response.json()["messages"]] == [
        "2026-01-15T12:00:01.001Z",
        "2026-01-15T12:00:02.999Z",
        "2026-01-15T12:00:03.123Z",
        "2026-12-31T23:59:59.999Z",
    ]


async def test_get_chat_of_another_user_is_readonly_when_public(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, reader = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, visibility="public")
    await make_message(app, chat, text="shared words")

    response = await client.get(f"/api/chat/{chat.id}", headers=reader.headers)

    assert response.status_code == 200
    assert response.json()["isReadonly"] is True
    assert response.json()["messages"][0]["parts"][0]["text"] == "shared words"


async def test_get_chat_of_another_user_is_not_found_when_private(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, title="private title")
    await make_message(app, chat, text="private words")

    response = await client.get(f"/api/chat/{chat.id}", headers=other.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"
    assert "private" not in response.text


async def test_get_chat_that_does_not_exist_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.get(f"/api/chat/{uuid.uuid4()}", headers=me.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"


async def test_get_chat_with_non_uuid_id_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.get("/api/chat/not-a-uuid", headers=me.headers)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert "id" in response.json()["cause"]


async def test_get_chat_without_user_is_unauthorized(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    chat = await make_chat(app, owner, visibility="public")

    response = await client.get(f"/api/chat/{chat.id}")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"


async def test_get_chat_reads_chat_and_messages_in_two_statements(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)
    for n in range(12):
        await make_message(app, chat, created_at=at(n))

    with count_statements(app) as log:
        response = await client.get(f"/api/chat/{chat.id}", headers=me.headers)

    assert len(response.json()["messages"]) == 12
    assert len(log.chat_statements) <= 2


# --- DELETE /api/chat?id= --------------------------------------------------------------------


async def test_delete_chat_returns_the_row_and_removes_everything_in_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me, title="Bye", created_at=at(5, 7))
    message = await make_message(app, chat, role="assistant")
    await make_vote(app, message)
    await make_usage(app, message, me.id)
    await make_stream(app, chat)
    await make_legacy_rows(app, chat)
    keep = await make_chat(app, me)
    await make_message(app, keep)

    response = await client.delete(f"/api/chat?id={chat.id}", headers=me.headers)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(chat.id),
        "createdAt": "2026-01-15T12:00:05.007Z",
        "title": "Bye",
        "userId": str(me.id),
        "visibility": "private",
    }
    for model in (Vote, Stream, LegacyMessage, LegacyVote, MessageUsage):
        assert await count_rows(app, model, chat_id=chat.id) == 0
    assert await count_rows(app, Message, chat_id=chat.id) == 0
    assert await count_rows(app, Chat, id=chat.id) == 0
    assert await count_rows(app, Message, chat_id=keep.id) == 1
    again = await client.get(f"/api/chat/{chat.id}", headers=me.headers)
    assert again.status_code == 404


async def test_delete_chat_without_id_is_bad_request_before_auth(
    client: httpx.AsyncClient,
) -> None:
    response = await client.delete("/api/chat")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"


async def test_delete_chat_with_non_uuid_id_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.delete("/api/chat?id=123", headers=me.headers)

    assert response.status_code == 400
    assert "id" in response.json()["cause"]


async def test_delete_chat_without_user_is_unauthorized(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)

    response = await client.delete(f"/api/chat?id={chat.id}")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"
    assert await count_rows(app, Chat, id=chat.id) == 1


async def test_delete_chat_that_does_not_exist_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.delete(f"/api/chat?id={uuid.uuid4()}", headers=me.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"


async def test_delete_chat_of_another_user_is_forbidden_and_keeps_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, title="not yours", visibility="public")
    await make_message(app, chat)

    response = await client.delete(f"/api/chat?id={chat.id}", headers=other.headers)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:chat"
    assert "not yours" not in response.text
    assert await count_rows(app, Chat, id=chat.id) == 1
    assert await count_rows(app, Message, chat_id=chat.id) == 1


# --- PATCH /api/chat/{id}/visibility ---------------------------------------------------------


async def test_update_visibility_returns_the_updated_chat(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, me)

    response = await client.patch(
        f"/api/chat/{chat.id}/visibility", json={"visibility": "public"}, headers=me.headers
    )

    assert response.status_code == 200
    assert response.json()["visibility"] == "public"
    assert response.json()["id"] == str(chat.id)
    listed = (await client.get("/api/history", headers=me.headers)).json()
    assert listed["chats"][0]["visibility"] == "public"
    shared = await client.get(f"/api/chat/{chat.id}", headers=other.headers)
    assert shared.status_code == 200


async def test_update_visibility_accepts_json_sent_as_text_plain(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me, visibility="public")

    response = await client.patch(
        f"/api/chat/{chat.id}/visibility",
        content=b'{"visibility": "private"}',
        headers={**me.headers, "Content-Type": "text/plain;charset=UTF-8"},
    )

    assert response.status_code == 200
    assert response.json()["visibility"] == "private"


@pytest.mark.parametrize("body", [{"visibility": "everyone"}, {}, {"visibility": None}])
async def test_update_visibility_with_bad_body_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)

    response = await client.patch(f"/api/chat/{chat.id}/visibility", json=body, headers=me.headers)

    assert response.status_code == 400
    assert "visibility" in response.json()["cause"]
    assert await count_rows(app, Chat, id=chat.id, visibility="private") == 1


async def test_update_visibility_of_another_users_chat_is_not_found_or_forbidden(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Another user's private chat does not exist for the caller (404, as a missing one); a
    public one may be seen but not changed (403)."""
    owner, other = await make_user(app), await make_user(app)
    chat = await make_chat(app, owner, title="keep out")
    public = await make_chat(app, owner, title="shown", visibility="public")

    hidden = await client.patch(
        f"/api/chat/{chat.id}/visibility", json={"visibility": "public"}, headers=other.headers
    )
    shown = await client.patch(
        f"/api/chat/{public.id}/visibility", json={"visibility": "private"}, headers=other.headers
    )

    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found:chat")
    assert "keep out" not in hidden.text
    assert (shown.status_code, shown.json()["code"]) == (403, "forbidden:chat")
    assert await count_rows(app, Chat, id=chat.id, visibility="private") == 1
    assert await count_rows(app, Chat, id=public.id, visibility="public") == 1


async def test_update_visibility_of_missing_chat_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.patch(
        f"/api/chat/{uuid.uuid4()}/visibility", json={"visibility": "public"}, headers=me.headers
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found:chat"


async def test_update_visibility_without_user_is_unauthorized(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    chat = await make_chat(app, me)

    response = await client.patch(f"/api/chat/{chat.id}/visibility", json={"visibility": "public"})

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"


async def test_update_visibility_with_non_uuid_id_is_bad_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await make_user(app)
    response = await client.patch(
        "/api/chat/xyz/visibility", json={"visibility": "public"}, headers=me.headers
    )

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
