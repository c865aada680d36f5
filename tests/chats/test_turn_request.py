"""`POST /api/chat` before streaming: body validation, auth, model id, ownership, order."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbot_api.chats.models import Chat, Message
from tests.chats.conftest import chat_body, send, turn_overrides
from tests.chats.helpers import count_rows
from tests.factories import make_chat, make_message, make_user


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return turn_overrides()


def _file(**changes: str) -> list[dict[str, Any]]:
    part = {"type": "file", "mediaType": "image/png", "name": "a.png", "url": "https://x.io/a.png"}
    return [{**part, **changes}]


def _text(n: int) -> list[dict[str, Any]]:
    return [{"type": "text", "text": "a" * n}]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(id="not-a-uuid"), "id"),
        (lambda b: b["message"].update(id="nope"), "message.id"),
        (lambda b: b["message"].update(role="assistant"), "message.role"),
        (lambda b: b["message"].update(parts=_text(2001)), "message.parts.0.text"),
        (lambda b: b["message"].update(parts=_text(0)), "message.parts.0.text"),
        (lambda b: b["message"].update(parts=[{"type": "video"}]), "message.parts.0"),
        (lambda b: b.update(selectedVisibilityType="secret"), "selectedVisibilityType"),
        (lambda b: b["message"].update(parts=_file(mediaType="image/gif")), "message.parts.0"),
        (lambda b: b["message"].update(parts=_file(url="not a url")), "message.parts.0.url"),
        (lambda b: b["message"].update(parts=_file(name="n" * 101)), "message.parts.0.name"),
    ],
)
async def test_post_chat_invalid_body_is_400_naming_the_field_before_auth(
    db: Any, client: httpx.AsyncClient, mutate: Any, field: str
) -> None:
    body = chat_body()
    mutate(body)
    response = await client.post("/api/chat", json=body)  # no credentials at all
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "bad_request:api"
    assert payload["cause"].startswith(field)


async def test_post_chat_malformed_json_is_400(db: Any, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/chat", content=b"{nope", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"


async def test_post_chat_without_message_is_400(db: Any, client: httpx.AsyncClient) -> None:
    response = await client.post("/api/chat", json={"id": str(uuid.uuid4())})
    assert response.status_code == 400
    assert response.json()["cause"].startswith("message")


async def test_post_chat_text_limit_counts_utf16_units(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    emoji_ok = chat_body(parts=[{"type": "text", "text": "😀" * 1000}])  # 2000 UTF-16 units
    emoji_long = chat_body(parts=[{"type": "text", "text": "😀" * 1000 + "a"}])
    assert (await client.post("/api/chat", json=emoji_long)).status_code == 400
    response, _ = await send(client, user, emoji_ok)
    assert response.status_code == 200


async def test_post_chat_without_user_is_401(db: Any, client: httpx.AsyncClient) -> None:
    response = await client.post("/api/chat", json=chat_body())
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized:chat"


async def test_post_chat_unknown_model_is_400_listing_models(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    response, _ = await send(client, user, chat_body(model="gpt-unknown"))
    assert response.status_code == 400
    assert "chat-model" in response.json()["cause"]
    assert await count_rows(app, Chat) == 0


async def test_post_chat_into_foreign_chat_is_403_and_writes_nothing(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    intruder = await make_user(app)
    chat = await make_chat(app, owner)
    response, _ = await send(client, intruder, chat_body(chat_id=chat.id))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden:chat"
    assert await count_rows(app, Message) == 0


async def test_post_chat_with_existing_message_id_is_400(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    chat = await make_chat(app, user)
    message = await make_message(app, chat)
    response, _ = await send(client, user, chat_body(chat_id=chat.id, message_id=message.id))
    assert response.status_code == 400
    assert response.json() == {
        "code": "",
        "message": "Something went wrong. Please try again later.",
    }


async def test_post_chat_strips_unknown_keys_of_the_message(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body()
    body["message"]["extra"] = 1
    body["message"]["parts"][0]["providerMetadata"] = {"x": 1}
    response, _ = await send(client, user, body)
    assert response.status_code == 200
    async with app.state.session_factory() as session:
        stored = await session.get(Message, uuid.UUID(body["message"]["id"]))
    assert stored is not None
    assert stored.parts == [{"type": "text", "text": "Hello there"}]


async def test_post_chat_pdf_part_is_ai_chatbots_400_by_default(
    db: Any, client: httpx.AsyncClient
) -> None:
    body = chat_body()
    body["message"]["parts"] = _file(mediaType="application/pdf", url="data:,x")
    response = await client.post("/api/chat", json=body)
    assert response.status_code == 400
    assert response.json()["cause"] == (
        "message.parts.0.mediaType: must be image/jpeg or image/png"
    )
