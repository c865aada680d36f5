"""One plausible request for every route of the app, on data made before the database is cut.

`world()` makes a user, its tokens and one of each thing a route reads (chat, messages,
document, thread, upload, attachment); `calls()` answers one request per OpenAPI operation,
ordered so that replaying them all with the database up succeeds (deletions last).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from tests import factories
from tests.files.conftest import png_bytes

API_KEY = "acme:key-acme-0123456789"  # ASSISTANT_CLOUD_API_KEYS, for POST /v1/auth/tokens
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# Routes that read nothing from the database: they keep answering during an outage.
NO_DATABASE = {
    "GET /health",
    "GET /ping",
    "GET /api/models",
    "GET /api/auth/session",
    "POST /api/files/upload",
    "GET /api/files/{pathname}",
}


@dataclass
class World:
    user: factories.TestUser
    ids: dict[str, str]  # path parameters by name, and the other ids the calls use
    refresh_token: str  # /api/auth
    logout: tuple[str, str]  # an access token and its refresh token, to sign out
    cloud_refresh: tuple[str, str]  # two /v1 anonymous refresh tokens (refresh, claim)
    upload_path: str  # a signed attachment upload URL not used yet


@dataclass
class Call:
    name: str  # "<METHOD> <OpenAPI path>"
    url: str
    ok: int  # the status it answers when the database is up
    kwargs: dict[str, Any] = field(default_factory=dict)

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.request(self.name.split(" ", 1)[0], self.url, **self.kwargs)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


async def _chat_ids(app: FastAPI, user: factories.TestUser) -> dict[str, str]:
    chat = await factories.make_chat(app, user)
    doomed = await factories.make_chat(app, user, title="to delete")
    await factories.make_message(app, chat, role="user", text="Hi")
    answer = await factories.make_message(app, chat, role="assistant", text="Hello!")
    doomed_message = await factories.make_message(app, doomed, role="user", text="bye")
    document = await factories.make_document(app, user)
    return {
        "id": str(chat.id),
        "answer": str(answer.id),
        "doomed_chat": str(doomed.id),
        "doomed_message": str(doomed_message.id),
        "document": str(document.id),
        "document_at": document.created_at.isoformat().replace("+00:00", "Z"),
    }


async def _cloud_ids(client: httpx.AsyncClient, h: dict[str, str]) -> dict[str, str]:
    thread = await _ok(await client.post("/v1/threads", json={"title": "T"}, headers=h))
    doomed = await _ok(await client.post("/v1/threads", json={}, headers=h))
    message = await _ok(
        await client.post(
            f"/v1/threads/{thread['thread_id']}/messages",
            json={"format": "ai-sdk/v6", "content": {"role": "user", "parts": []}},
            headers=h,
        )
    )
    png = {"file": ("a.png", png_bytes(), "image/png")}
    upload = await _ok(await client.post("/api/files/upload", headers=h, files=png))
    signed = await _presign(client, h)
    await _ok(await client.put(_path(signed["signedUrl"]), content=PNG))
    return {
        "thread_id": thread["thread_id"],
        "doomed_thread": doomed["thread_id"],
        "message_id": message["message_id"],
        "pathname": upload["pathname"],
        "key": signed["key"],
    }


async def _presign(client: httpx.AsyncClient, h: dict[str, str]) -> Any:
    route = "/v1/files/attachments/generate-presigned-upload-url"
    return await _ok(await client.post(route, json={"filename": "a.png"}, headers=h))


async def world(app: FastAPI, client: httpx.AsyncClient) -> World:
    """Everything the calls need, made while the database is up."""
    user = await factories.make_user(app)
    login = {"email": user.email, "password": user.password}
    first = await _ok(await client.post("/api/auth/login", json=login))
    second = await _ok(await client.post("/api/auth/login", json=login))
    anonymous = [
        (await _ok(await client.post("/v1/auth/tokens/anonymous")))["refresh_token"]["token"]
        for _ in range(2)
    ]
    return World(
        user=user,
        ids={**await _chat_ids(app, user), **await _cloud_ids(client, user.headers)},
        refresh_token=first["refresh_token"],
        logout=(second["access_token"], second["refresh_token"]),
        cloud_refresh=(anonymous[0], anonymous[1]),
        upload_path=_path((await _presign(client, user.headers))["signedUrl"]),
    )


def calls(w: World) -> list[Call]:
    """One request per route; replayed in this order with the database up, each answers `ok`."""
    return [*_api_calls(w), *_cloud_calls(w), *_deletions(w)]


def _call(
    w: World, name: str, ok: int, query: str = "", path: dict[str, str] | None = None, **kwargs: Any
) -> Call:
    """`name`'s path parameters filled from `w.ids` (or `path`); the user's token unless
    `headers=` says otherwise."""
    kwargs.setdefault("headers", w.user.headers)
    url = name.split(" ", 1)[1].format(**{**w.ids, **(path or {})})
    return Call(name, f"{url}?{query}" if query else url, ok, kwargs)


def _api_calls(w: World) -> list[Call]:
    ids = w.ids
    login = {"email": w.user.email, "password": w.user.password}
    fresh = {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "password123"}
    text = [{"type": "text", "text": "Hi"}]
    turn = {
        "id": str(uuid.uuid4()),
        "message": {"id": str(uuid.uuid4()), "role": "user", "parts": text},
        "selectedChatModel": "chat-model",
        "selectedVisibilityType": "private",
    }
    vote = {"chatId": ids["id"], "messageId": ids["answer"], "type": "up"}
    document = {"title": "A document", "content": "More.", "kind": "text"}
    png = {"file": ("b.png", png_bytes(), "image/png")}
    return [
        _call(w, "GET /health", 200),
        _call(w, "GET /ping", 200),
        _call(w, "GET /health/ready", 200),
        _call(w, "GET /api/models", 200),
        _call(w, "GET /api/auth/session", 200),
        _call(w, "POST /api/auth/register", 201, json=fresh, headers={}),
        _call(w, "POST /api/auth/login", 200, json=login, headers={}),
        _call(w, "POST /api/auth/guest", 201, headers={}),
        _call(w, "POST /api/auth/refresh", 200, json={"refresh_token": w.refresh_token}),
        _call(w, "GET /api/history", 200, "limit=10"),
        _call(w, "GET /api/chat/{id}", 200),
        _call(w, "PATCH /api/chat/{id}/visibility", 200, json={"visibility": "public"}),
        _call(w, "GET /api/vote", 200, f"chatId={ids['id']}"),
        _call(w, "PATCH /api/vote", 200, json=vote),
        _call(w, "GET /api/document", 200, f"id={ids['document']}"),
        _call(w, "POST /api/document", 200, f"id={ids['document']}", json=document),
        _call(w, "GET /api/suggestions", 200, f"documentId={ids['document']}"),
        _call(w, "POST /api/files/upload", 200, files=png),
        _call(w, "GET /api/files/{pathname}", 200),
        _call(w, "POST /api/chat", 200, json=turn),
        _call(w, "GET /api/chat/{id}/stream", 204),
        _call(w, "POST /api/chat/{id}/stop", 200),
        _call(w, "POST /api/threads", 201, json={"title": "Simple"}),
        _call(w, "GET /api/threads", 200, "limit=5"),
    ]


def _cloud_calls(w: World) -> list[Call]:
    thread = w.ids["thread_id"]
    content = {"role": "user", "parts": []}
    title_run = {
        "thread_id": thread,
        "assistant_id": "system/thread_title",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Lisbon trip"}]}],
    }
    score = {"name": "q", "data_type": "numeric", "value": 1, "thread_id": thread}
    workspace, key = API_KEY.split(":")
    mint = {"Authorization": f"Bearer {key}", "Aui-Workspace-Id": workspace, "Aui-User-Id": "u1"}
    message = "/v1/threads/{thread_id}/messages/{message_id}"
    attachments = "/v1/files/attachments"
    return [
        _call(w, "GET /v1/threads", 200),
        _call(w, "POST /v1/threads", 201, json={"title": "Another"}),
        _call(w, "GET /v1/threads/{thread_id}", 200),
        _call(w, "PUT /v1/threads/{thread_id}", 204, json={"title": "Renamed"}),
        _call(w, "GET /v1/threads/{thread_id}/messages", 200),
        _call(
            w,
            "POST /v1/threads/{thread_id}/messages",
            201,
            json={"format": "ai-sdk/v6", "content": content},
        ),
        _call(w, f"PUT {message}", 204, json={"content": content}),
        _call(w, f"POST {message}/feedback", 201, json={"type": "positive"}),
        _call(w, "POST /v1/runs/stream", 200, json=title_run),
        _call(w, "POST /v1/runs", 201, json={"thread_id": thread, "status": "completed"}),
        _call(w, "POST /v1/events", 200, json={"events": [{"kind": "message_sent"}]}),
        _call(w, "POST /v1/scores", 201, json=score),
        _call(w, "POST /v1/auth/tokens", 200, headers=mint),
        _call(w, "POST /v1/auth/tokens/anonymous", 201, headers={}),
        _call(
            w,
            "POST /v1/auth/tokens/refresh",
            200,
            json={"refresh_token": w.cloud_refresh[0]},
            headers={},
        ),
        _call(w, "POST /v1/threads/claim", 200, json={"refresh_token": w.cloud_refresh[1]}),
        _call(
            w, f"POST {attachments}/generate-presigned-upload-url", 200, json={"filename": "c.png"}
        ),
        _call(
            w,
            f"POST {attachments}/generate-presigned-download-url",
            200,
            json={"key": w.ids["key"]},
        ),
        _call(w, f"GET {attachments}/{{key}}", 200, headers={}),
    ]


def _deletions(w: World) -> list[Call]:
    """Last, the calls that use something up: a signed upload URL, a session, what they
    delete (the history: every chat)."""
    ids, (access, refresh) = w.ids, w.logout
    signed = {"content": PNG, "headers": {}}
    signed_out = {"Authorization": f"Bearer {access}"}
    reverted = f"id={ids['document']}&timestamp={ids['document_at']}"
    return [
        Call("PUT /v1/files/attachments/{key}", w.upload_path, 204, signed),
        _call(w, "POST /api/auth/logout", 204, json={"refresh_token": refresh}, headers=signed_out),
        _call(
            w,
            "DELETE /api/chat/{id}/messages",
            200,
            f"after={ids['doomed_message']}",
            path={"id": ids["doomed_chat"]},
        ),
        _call(w, "DELETE /api/document", 200, reverted),
        _call(w, "DELETE /v1/threads/{thread_id}", 204, path={"thread_id": ids["doomed_thread"]}),
        _call(w, "DELETE /api/chat", 200, f"id={ids['doomed_chat']}"),
        _call(w, "DELETE /api/history", 200),
    ]
