"""Attachments through the real app on a faked OpenAI-compatible upstream: a PDF uploaded here
reaches the model as a file part, a type the model cannot take is a 400 before anything is
saved, and ai-chatbot's JPEG/PNG rule holds unless ALLOW_DOCUMENT_ATTACHMENTS is on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from chatbot_api.chats.models import Chat, Message
from tests.chats.conftest import chat_body, send, text_of, turn_overrides
from tests.factories import make_user
from tests.fakes.openai_server import FakeOpenAIServer, stream_reply, text_stream

MODEL = "openai/gpt-4.1-mini"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAIServer]:
    def reply(_: Any) -> Any:
        return stream_reply(text_stream(["Read ", "it."], usage=(5, 2)))

    with FakeOpenAIServer(default=reply) as server:
        yield server


@pytest.fixture
def settings_overrides(upstream: FakeOpenAIServer) -> dict[str, Any]:
    return turn_overrides(
        ai_gateway_api_key="test-gateway-key",
        ai_gateway_url=upstream.base_url,
        allow_document_attachments=True,
        chat_text_file_max_bytes=64,
    )


def _file(media_type: str, url: str, name: str) -> dict[str, Any]:
    return {"type": "file", "mediaType": media_type, "url": url, "name": name}


async def _counts(app: FastAPI) -> tuple[int, int]:
    async with app.state.session_factory() as session:
        chats = await session.scalar(select(func.count()).select_from(Chat))
        messages = await session.scalar(select(func.count()).select_from(Message))
    return int(chats or 0), int(messages or 0)


async def test_uploaded_pdf_reaches_the_model_as_a_file_part(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    files = {"file": ("report.pdf", PDF, "application/pdf")}
    uploaded = await client.post("/api/files/upload", files=files, headers=user.headers)
    assert uploaded.status_code == 200
    assert uploaded.json()["contentType"] == "application/pdf"
    parts = [
        {"type": "text", "text": "Summarise"},
        _file("application/pdf", uploaded.json()["url"], "report.pdf"),
    ]
    response, chunks = await send(client, user, chat_body(model=MODEL, parts=parts))
    assert response.status_code == 200
    assert text_of(chunks) == "Read it."
    sent = next(r.json() for r in upstream.requests if r.json().get("tools"))
    [pdf_part] = [p for p in sent["messages"][-1]["content"] if p["type"] == "file"]
    assert pdf_part["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert pdf_part["file"]["filename"] == "report.pdf"


@pytest.mark.parametrize(
    ("part", "cause"),
    [
        (_file("application/zip", "data:,PK", "a.zip"),
         f"file part: the model {MODEL} does not take application/zip files (“a.zip”)"),
        (_file("application/pdf", "https://example.com/a.pdf", "a.pdf"),
         f"file part: the model {MODEL} takes application/pdf files only uploaded here or as "
         "data: URLs, not by URL (“a.pdf”)"),
        (_file("text/plain", "data:," + "x" * 65, "big.txt"),
         "file part: “big.txt” is larger than 64 bytes"),
    ],
)  # fmt: skip
async def test_file_the_model_cannot_take_is_a_400_and_nothing_is_saved(
    db: Any,
    app: FastAPI,
    client: httpx.AsyncClient,
    upstream: FakeOpenAIServer,
    part: dict[str, Any],
    cause: str,
) -> None:
    user = await make_user(app)
    before = await _counts(app)
    response, _ = await send(client, user, chat_body(model=MODEL, parts=[part]))
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request:api"
    assert response.json()["cause"] == cause
    assert await _counts(app) == before
    assert upstream.requests == []


async def test_text_file_is_inlined_for_the_model(
    db: Any, app: FastAPI, client: httpx.AsyncClient, upstream: FakeOpenAIServer
) -> None:
    user = await make_user(app)
    parts = [_file("text/csv", "data:,a%2Cb%0A1%2C2", "t.csv")]
    response, _ = await send(client, user, chat_body(model=MODEL, parts=parts))
    assert response.status_code == 200
    sent = next(r.json() for r in upstream.requests if r.json().get("tools"))
    assert (
        sent["messages"][-1]["content"] == '<file name="t.csv" type="text/csv">\na,b\n1,2\n</file>'
    )
