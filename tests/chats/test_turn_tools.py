"""Tools in a turn: weather with approval, documents (create/update), suggestions, ownership."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from chatbot_api.ai.tools.weather import UNREACHABLE
from chatbot_api.documents.models import Document, Suggestion
from tests.chats.conftest import (
    assemble,
    chat_body,
    send,
    stored_messages,
    text_of,
    turn_overrides,
    ui_message,
)
from tests.chats.helpers import count_rows
from tests.factories import TestUser, make_chat, make_document, make_message, make_user
from tests.fakes.open_meteo import OpenMeteoFake


@pytest.fixture
def settings_overrides(
    weather_api: OpenMeteoFake, request: pytest.FixtureRequest
) -> dict[str, Any]:
    return turn_overrides(weather_api, **getattr(request, "param", {}))


def _of(chunks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in chunks if c["type"] == kind]


async def _approval_body(
    app: FastAPI, chat_id: str, *, approved: bool, then: str | None = None
) -> dict[str, Any]:
    """What ai-chatbot sends after Allow (or Deny, then a new message)."""
    messages = [ui_message(m) for m in await stored_messages(app, chat_id)]
    for part in messages[-1]["parts"]:
        if part.get("state") == "approval-requested":
            part["state"] = "approval-responded"
            part["approval"] = {"id": part["approval"]["id"], "approved": approved}
            if not approved:
                part["approval"]["reason"] = "User denied weather lookup"
    if then is not None:
        messages.append(
            {"id": str(uuid.uuid4()), "role": "user", "parts": [{"type": "text", "text": then}]}
        )
    return {
        "id": chat_id,
        "messages": messages,
        "selectedChatModel": "chat-model",
        "selectedVisibilityType": "private",
    }


async def test_weather_waits_for_approval_then_runs_on_allow(
    db: Any, app: FastAPI, client: httpx.AsyncClient, weather_api: OpenMeteoFake, clients_dir: Path
) -> None:
    user = await make_user(app)
    body = chat_body("What's the weather in San Francisco?")
    before = len(weather_api.requests)
    _, chunks = await send(client, user, body)
    request = _of(chunks, "tool-approval-request")
    assert len(request) == 1
    assert chunks[-1] == {"type": "finish", "finishReason": "tool-calls"}
    assert len(weather_api.requests) == before  # nothing ran yet
    stored = await stored_messages(app, body["id"])
    assert stored[-1].parts[-1]["state"] == "approval-requested"

    continuation = await _approval_body(app, body["id"], approved=True)
    start = continuation["messages"][-1]
    response, chunks = await send(client, user, continuation)
    assert response.status_code == 200
    assert chunks[0]["messageId"] == str(stored[-1].id)
    output = _of(chunks, "tool-output-available")[0]["output"]
    assert output["cityName"] == "San Francisco"
    assert output["current"]["temperature_2m"] == 17.2
    assert text_of(chunks)
    assert [kind for kind, _ in weather_api.requests[before:]] == ["search", "forecast"]

    assembled = assemble(clients_dir, response.content, start=start)["message"]
    messages = await stored_messages(app, body["id"])
    assert [m.role for m in messages] == ["user", "assistant"]
    assert ui_message(messages[-1])["parts"] == assembled["parts"]
    assert messages[-1].parts[1]["state"] == "output-available"


async def test_weather_denied_then_new_message_saves_both(
    db: Any, app: FastAPI, client: httpx.AsyncClient, weather_api: OpenMeteoFake
) -> None:
    user = await make_user(app)
    body = chat_body("What's the weather in Paris?")
    await send(client, user, body)
    before = len(weather_api.requests)
    continuation = await _approval_body(app, body["id"], approved=False, then="Never mind, hi")
    response, chunks = await send(client, user, continuation)
    assert response.status_code == 200
    assert text_of(chunks)
    assert len(weather_api.requests) == before
    messages = await stored_messages(app, body["id"])
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert str(messages[2].id) == continuation["messages"][-1]["id"]
    denied = messages[1].parts[-1]
    assert denied["state"] == "output-denied"
    assert denied["approval"] == {
        "id": denied["approval"]["id"],
        "approved": False,
        "reason": "User denied weather lookup",
    }


async def test_approval_continuation_of_a_foreign_chat_is_403(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    intruder = await make_user(app)
    body = chat_body("What's the weather in Paris?")
    await send(client, owner, body)
    continuation = await _approval_body(app, body["id"], approved=True)
    response, _ = await send(client, intruder, continuation)
    assert response.status_code == 403


async def test_approval_continuation_without_an_answer_is_400(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    body = chat_body("Hello there")
    await send(client, user, body)
    messages = [ui_message(m) for m in await stored_messages(app, body["id"])]
    response, _ = await send(client, user, {"id": body["id"], "messages": messages})
    assert response.status_code == 400
    assert response.json()["cause"].startswith("messages")


@pytest.mark.parametrize(
    "settings_overrides", [{"weather_approval_required": False}], indirect=True
)
async def test_weather_without_approval_runs_at_once(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    _, chunks = await send(client, user, chat_body("What's the weather in London?"))
    assert not _of(chunks, "tool-approval-request")
    assert _of(chunks, "tool-output-available")[0]["output"]["cityName"] == "London"
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}


@pytest.mark.parametrize(
    "settings_overrides",
    [{"weather_approval_required": False, "open_meteo_geocoding_url": "http://127.0.0.1:9/x"}],
    indirect=True,
)
async def test_weather_unreachable_gives_a_clear_error_object(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    _, chunks = await send(client, user, chat_body("What's the weather in London?"))
    assert _of(chunks, "tool-output-available")[0]["output"] == {"error": UNREACHABLE}
    assert chunks[-1]["type"] == "finish"


@pytest.mark.parametrize(
    ("prompt", "kind", "delta"),
    [
        ("Write an essay about the ocean", "text", "data-textDelta"),
        ("Write python code for fizzbuzz", "code", "data-codeDelta"),
        ("Create a spreadsheet of planets", "sheet", "data-sheetDelta"),
    ],
)
async def test_create_document_streams_data_parts_in_order_and_saves_one_version(
    db: Any, app: FastAPI, client: httpx.AsyncClient, prompt: str, kind: str, delta: str
) -> None:
    user = await make_user(app)
    body = chat_body(prompt)
    _, chunks = await send(client, user, body)
    data = [c for c in chunks if c["type"].startswith("data-") and c["type"] != "data-chat-title"]
    assert all(c.get("transient") is True for c in data)
    names = [c["type"] for c in data]
    assert names[:4] == ["data-kind", "data-id", "data-title", "data-clear"]
    assert names[-1] == "data-finish"
    assert set(names[4:-1]) == {delta}
    assert data[0]["data"] == kind
    doc_id = uuid.UUID(data[1]["data"])
    async with app.state.session_factory() as session:
        versions = (await session.scalars(select(Document).where(Document.id == doc_id))).all()
    assert len(versions) == 1
    assert versions[0].kind == kind
    assert versions[0].user_id == user.id
    deltas = [c["data"] for c in data[4:-1]]
    content = "".join(deltas) if kind == "text" else deltas[-1]
    assert versions[0].content == content
    if kind == "sheet":
        assert deltas[-1] == deltas[-2]  # the final CSV once more
    output = _of(chunks, "tool-output-available")[0]["output"]
    assert output == {
        "id": str(doc_id),
        "title": data[2]["data"],
        "kind": kind,
        "content": "A document was created and is now visible to the user.",
    }


async def _chat_mentioning(app: FastAPI, user: TestUser, doc: Document) -> Any:
    """A chat whose history created `doc` (so the demo model targets it)."""
    chat = await make_chat(app, user)
    await make_message(app, chat, text="Write an essay")
    part = {
        "type": "tool-createDocument",
        "toolCallId": "call_1",
        "state": "output-available",
        "input": {"title": doc.title, "kind": doc.kind},
        "output": {"id": str(doc.id), "title": doc.title, "kind": doc.kind, "content": "ok"},
    }
    await make_message(app, chat, role="assistant", parts=[{"type": "step-start"}, part])
    return chat


async def test_update_document_adds_a_version_of_the_callers_document(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    doc = await make_document(app, user, content="A long text about the sea.")
    chat = await _chat_mentioning(app, user, doc)
    _, chunks = await send(client, user, chat_body("Make it shorter", chat_id=chat.id))
    data = [c["type"] for c in chunks if c["type"].startswith("data-")]
    assert data[0] == "data-clear"
    assert data[-1] == "data-finish"
    output = _of(chunks, "tool-output-available")[0]["output"]
    assert output["content"] == "The document has been updated successfully."
    assert await count_rows(app, Document, id=doc.id) == 2


async def test_update_document_of_another_user_is_a_tool_error_and_saves_nothing(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    user = await make_user(app)
    doc = await make_document(app, owner)
    chat = await _chat_mentioning(app, user, doc)
    _, chunks = await send(client, user, chat_body("Make it shorter", chat_id=chat.id))
    errors = _of(chunks, "tool-output-error")
    assert errors[0]["errorText"] == "This document belongs to another user."
    assert not [c for c in chunks if c["type"] in ("data-clear", "data-textDelta")]
    assert chunks[-1]["type"] == "finish"
    assert text_of(chunks)  # the turn went on
    assert await count_rows(app, Document, id=doc.id) == 1


async def test_request_suggestions_streams_and_saves_them(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user(app)
    doc = await make_document(
        app, user, content="The ocean is big. It has many fish. People like it a lot."
    )
    chat = await _chat_mentioning(app, user, doc)
    _, chunks = await send(client, user, chat_body("Suggest improvements", chat_id=chat.id))
    streamed = _of(chunks, "data-suggestion")
    assert streamed
    assert all(c["transient"] is True for c in streamed)
    first = streamed[0]["data"]
    assert set(first) == {
        "originalText",
        "suggestedText",
        "description",
        "id",
        "documentId",
        "isResolved",
    }
    assert first["documentId"] == str(doc.id)
    assert _of(chunks, "tool-output-available")[0]["output"]["message"] == (
        "Suggestions have been added to the document"
    )
    async with app.state.session_factory() as session:
        saved = (await session.scalars(select(Suggestion))).all()
    assert len(saved) == len(streamed)
    assert {s.original_text for s in saved} == {c["data"]["originalText"] for c in streamed}
    # the ids the client saw are the ids of the saved rows (it resolves suggestions by id)
    assert {str(s.id) for s in saved} == {c["data"]["id"] for c in streamed}
    assert all(s.user_id == user.id and s.document_created_at == doc.created_at for s in saved)


async def test_request_suggestions_on_another_users_document_saves_nothing(
    db: Any, app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await make_user(app)
    user = await make_user(app)
    doc = await make_document(app, owner, content="Some text. More text.")
    chat = await _chat_mentioning(app, user, doc)
    _, chunks = await send(client, user, chat_body("Suggest improvements", chat_id=chat.id))
    assert _of(chunks, "tool-output-error")
    assert not _of(chunks, "data-suggestion")
    assert await count_rows(app, Suggestion) == 0


async def test_one_approval_runs_the_tool_once_even_when_sent_twice_at_once(
    db: Any, app: FastAPI, client: httpx.AsyncClient, weather_api: OpenMeteoFake
) -> None:
    user = await make_user(app)
    body = chat_body("What's the weather in Paris?")
    await send(client, user, body)
    continuation = await _approval_body(app, body["id"], approved=True)
    before = len(weather_api.requests)
    results = await asyncio.gather(*(send(client, user, continuation) for _ in range(2)))
    assert sorted(response.status_code for response, _ in results) == [200, 400]
    assert [kind for kind, _ in weather_api.requests[before:]] == ["search", "forecast"]
