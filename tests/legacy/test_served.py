"""A Next.js database, adopted at startup, is served as its users knew it (PostgreSQL).

Old users sign in with their old passwords and find their chats, messages, votes, documents
and suggestions exactly as the Next.js app stored them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from chatbot_api.db import migrate
from chatbot_api.db.engine import create_engine
from chatbot_api.main import create_app
from tests import conftest as harness
from tests.db.pg import PgDatabase
from tests.legacy import data
from tests.legacy.data import ADA, GRACE, GUEST, LegacyUser


@pytest.fixture
async def served(legacy_pg: PgDatabase, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the legacy database after a serve-style startup (which adopts it)."""
    await migrate.migrate_on_startup(legacy_pg.url, echo=lambda _: None)
    engine = create_engine(legacy_pg.url)
    settings = harness.make_settings(
        harness.TestDatabase("postgresql", legacy_pg.url, engine), tmp_path
    )
    application = create_app(settings)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http
    finally:
        await engine.dispose()


async def _login(client: httpx.AsyncClient, user: LegacyUser) -> dict[str, str]:
    response = await client.post(
        "/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("user", [ADA, GRACE], ids=["ascii", "non-ascii"])
async def test_login_legacy_user_with_old_password_succeeds(
    served: httpx.AsyncClient, user: LegacyUser
) -> None:
    response = await served.post(
        "/api/auth/login", json={"email": user.email, "password": user.password}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"]
    assert body["user"] == {"id": str(user.id), "email": user.email, "type": "regular"}


async def test_login_legacy_user_with_wrong_password_fails(served: httpx.AsyncClient) -> None:
    response = await served.post(
        "/api/auth/login", json={"email": ADA.email, "password": "not-her-password"}
    )

    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


async def test_login_legacy_guest_with_credentials_fails(served: httpx.AsyncClient) -> None:
    response = await served.post(
        "/api/auth/login", json={"email": GUEST.email, "password": GUEST.password}
    )

    assert response.status_code in (400, 401)


async def test_history_lists_legacy_chats_newest_first(served: httpx.AsyncClient) -> None:
    headers = await _login(served, ADA)

    response = await served.get("/api/history?limit=10", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hasMore"] is False
    assert body["chats"] == [
        {
            "id": str(data.ESSAY_CHAT),
            "createdAt": "2025-11-02T18:40:11.007Z",
            "title": "Essay on compilers",
            "userId": str(ADA.id),
            "visibility": "public",
        },
        {
            "id": str(data.WEATHER_CHAT),
            "createdAt": "2025-11-01T09:15:02.123Z",
            "title": "Weather in Paris",
            "userId": str(ADA.id),
            "visibility": "private",
        },
    ]


async def test_chat_serves_legacy_messages_with_their_parts(served: httpx.AsyncClient) -> None:
    headers = await _login(served, ADA)

    response = await served.get(f"/api/chat/{data.WEATHER_CHAT}", headers=headers)

    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    stored = [m for m in data.MESSAGES if m[1] == data.WEATHER_CHAT]
    assert [m["id"] for m in messages] == [str(m[0]) for m in stored]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert [m["parts"] for m in messages] == [m[3] for m in stored]
    assert messages[1]["createdAt"] == "2025-11-01T09:15:06.871Z"
    tool = messages[1]["parts"][2]
    assert (tool["type"], tool["state"], tool["output"]["cityName"]) == (
        "tool-getWeather",
        "output-available",
        "Paris",
    )


async def test_chat_private_legacy_chat_is_hidden_from_other_users(
    served: httpx.AsyncClient,
) -> None:
    headers = await _login(served, GRACE)

    response = await served.get(f"/api/chat/{data.WEATHER_CHAT}", headers=headers)

    assert response.status_code == 404


async def test_vote_lists_legacy_votes(served: httpx.AsyncClient) -> None:
    headers = await _login(served, ADA)

    up = await served.get(f"/api/vote?chatId={data.WEATHER_CHAT}", headers=headers)
    down = await served.get(f"/api/vote?chatId={data.ESSAY_CHAT}", headers=headers)

    assert up.status_code == 200, up.text
    assert up.json() == [
        {"chatId": str(data.WEATHER_CHAT), "messageId": str(data.WEATHER_ANSWER), "isUpvoted": True}
    ]
    assert down.json() == [
        {"chatId": str(data.ESSAY_CHAT), "messageId": str(data.ESSAY_ANSWER), "isUpvoted": False}
    ]


async def test_document_lists_every_legacy_version_oldest_first(
    served: httpx.AsyncClient,
) -> None:
    headers = await _login(served, ADA)

    response = await served.get(f"/api/document?id={data.DOCUMENT}", headers=headers)

    assert response.status_code == 200, response.text
    versions = response.json()
    assert [v["createdAt"] for v in versions] == [
        "2025-11-02T18:40:20.101Z",
        "2025-11-02T18:45:03.250Z",
        "2025-11-02T19:02:59.999Z",
    ]
    assert [v["content"] for v in versions] == list(data.DOCUMENT_CONTENTS)
    assert {(v["id"], v["title"], v["kind"], v["userId"]) for v in versions} == {
        (str(data.DOCUMENT), "Compilers", "text", str(ADA.id))
    }


async def test_suggestions_lists_legacy_suggestions_of_version_two(
    served: httpx.AsyncClient,
) -> None:
    headers = await _login(served, ADA)

    response = await served.get(f"/api/suggestions?documentId={data.DOCUMENT}", headers=headers)

    assert response.status_code == 200, response.text
    suggestions = sorted(response.json(), key=lambda s: s["id"])
    assert [s["id"] for s in suggestions] == [str(s[0]) for s in data.SUGGESTIONS]
    assert {s["documentCreatedAt"] for s in suggestions} == {"2025-11-02T18:45:03.250Z"}
    assert suggestions[0]["description"] == "Name what is being translated"
    assert suggestions[1]["description"] is None
    assert {s["isResolved"] for s in suggestions} == {False}


async def test_delete_legacy_chat_with_deprecated_rows_succeeds(
    served: httpx.AsyncClient, legacy_pg: PgDatabase
) -> None:
    headers = await _login(served, GRACE)

    response = await served.delete(f"/api/chat?id={data.GRACE_CHAT}", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(data.GRACE_CHAT)
    left = await legacy_pg.fetch('SELECT 1 FROM "Message" WHERE id = $1', data.OLD_MESSAGE)
    assert left == []


async def test_history_lists_chat_the_nextjs_app_writes_after_adoption(
    served: httpx.AsyncClient, legacy_pg: PgDatabase
) -> None:
    """Both backends share the database: a chat saved by the Next.js app shows up here."""
    headers = await _login(served, GRACE)
    new_chat = uuid.uuid4()
    await legacy_pg.execute(
        'INSERT INTO "Chat" (id, "createdAt", title, "userId", visibility) VALUES '
        f"('{new_chat}', '2025-12-01 10:00:00.250', 'Written by Next.js', '{GRACE.id}', "
        "'private')"
    )

    response = await served.get("/api/history", headers=headers)

    assert response.status_code == 200
    chats = response.json()["chats"]
    assert [uuid.UUID(c["id"]) for c in chats] == [new_chat, data.GRACE_CHAT]
    assert chats[0]["createdAt"] == "2025-12-01T10:00:00.250Z"
