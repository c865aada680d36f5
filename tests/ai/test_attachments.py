"""Files attached to user messages: read from our storage or data: URLs, inlined as text, sent
to the OpenAI-compatible and Anthropic upstreams (faked) in their documented shapes; and the
usage fields those upstreams report."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from chatbot_api.ai.attachments import AttachmentRejected, AttachmentRules
from chatbot_api.ai.base import FilePart, ImagePart, ModelMessage, ModelRequest, TextPart
from chatbot_api.ai.base import input_types as provider_input_types
from chatbot_api.ai.convert import to_model_messages
from chatbot_api.ai.demo import DemoProvider
from chatbot_api.ai.providers.anthropic import AnthropicProvider
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.files.local import LocalStorage
from tests.ai.events import collect, finish_of
from tests.fakes.anthropic_server import FakeAnthropicServer, messages_reply, text_block
from tests.fakes.openai_server import FakeOpenAIServer, stream_reply, text_stream, usage_chunk

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
STORED_PDF = "report-abcdefghijklmnopqrstuvwx.pdf"
STORED_TEXT = "notes-abcdefghijklmnopqrstuvwx.md"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    (tmp_path / STORED_PDF).write_bytes(PDF)
    (tmp_path / STORED_TEXT).write_text("# Notes\nsecond line", encoding="utf-8")
    return LocalStorage(tmp_path)


def rules(storage: LocalStorage, provider: object, **caps: int) -> AttachmentRules:
    return AttachmentRules(
        model_id="some/model",
        input_types=provider_input_types(provider),
        read=storage.read,
        text_max_bytes=caps.get("text", 200 * 1024),
        file_max_bytes=caps.get("file", 1024 * 1024),
    )


def message(*parts: dict[str, str]) -> list[ModelMessage]:
    return to_model_messages(
        [{"role": "user", "parts": [{"type": "text", "text": "Read"}, *parts]}]
    )


def file(media_type: str, url: str, name: str = "doc") -> dict[str, str]:
    return {"type": "file", "mediaType": media_type, "url": url, "filename": name}


OUR_PDF_URL = f"http://localhost:8000/api/files/{STORED_PDF}"
DATA_PDF_URL = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
EXTERNAL_PDF_URL = "https://example.com/paper.pdf"


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# --- the rules ---------------------------------------------------------------------------


async def test_pdf_at_our_upload_url_is_read_from_storage(storage: LocalStorage) -> None:
    openai = OpenAICompatProvider
    [prepared] = await rules(storage, openai).prepare(message(file("application/pdf", OUR_PDF_URL)))
    assert prepared.content[1] == FilePart("application/pdf", "doc", data=PDF)


async def test_a_turns_rules_read_each_upload_once(storage: LocalStorage) -> None:
    reads: list[str] = []

    async def counting_read(url: str) -> bytes | None:
        reads.append(url)
        return await storage.read(url)

    checked = rules(storage, OpenAICompatProvider)
    checked = dataclasses.replace(checked, read=counting_read)
    for _ in range(2):  # the check before admission, then the first step
        [prepared] = await checked.prepare(message(file("application/pdf", OUR_PDF_URL)))
        assert prepared.content[1] == FilePart("application/pdf", "doc", data=PDF)
    assert reads == [OUR_PDF_URL]


async def test_text_files_are_inlined_from_storage_and_data_urls(storage: LocalStorage) -> None:
    parts = message(
        file("text/markdown", f"/api/files/{STORED_TEXT}", "notes.md"),
        file("text/csv", "data:text/csv;base64," + base64.b64encode(b"a,b\n1,2").decode(), "t.csv"),
        file("application/json", 'data:,{"k":1}', 'x"y.json'),
    )
    [prepared] = await rules(storage, object()).prepare(parts)
    assert prepared.content[1:] == [
        TextPart('<file name="notes.md" type="text/markdown">\n# Notes\nsecond line\n</file>'),
        TextPart('<file name="t.csv" type="text/csv">\na,b\n1,2\n</file>'),
        TextPart('<file name="x&quot;y.json" type="application/json">\n{"k":1}\n</file>'),
    ]


async def test_text_file_over_the_cap_is_rejected_naming_it(storage: LocalStorage) -> None:
    parts = message(file("text/markdown", f"/api/files/{STORED_TEXT}", "notes.md"))
    with pytest.raises(AttachmentRejected, match=r"“notes\.md” is larger than 10 bytes"):
        await rules(storage, object(), text=10).prepare(parts)


async def test_external_text_file_is_rejected_not_fetched(storage: LocalStorage) -> None:
    parts = message(file("text/plain", "https://example.com/a.txt", "a.txt"))
    with pytest.raises(AttachmentRejected, match="other URLs are not fetched"):
        await rules(storage, DemoProvider()).prepare(parts)


async def test_type_the_provider_cannot_take_names_type_and_model(storage: LocalStorage) -> None:
    openai = OpenAICompatProvider
    parts = message(file("application/zip", DATA_PDF_URL, "a.zip"))
    with pytest.raises(AttachmentRejected) as caught:
        await rules(storage, openai).prepare(parts)
    assert (
        caught.value.message == "the model some/model does not take application/zip files (“a.zip”)"
    )


async def test_external_pdf_goes_by_url_only_where_the_provider_takes_urls(
    storage: LocalStorage,
) -> None:
    parts = message(file("application/pdf", EXTERNAL_PDF_URL))
    anthropic = AnthropicProvider
    [prepared] = await rules(storage, anthropic).prepare(parts)
    assert prepared.content[1] == FilePart("application/pdf", "doc", url=EXTERNAL_PDF_URL)
    openai = OpenAICompatProvider
    with pytest.raises(AttachmentRejected, match="not by URL"):
        await rules(storage, openai).prepare(parts)


async def test_lenient_prepare_turns_a_refused_file_into_a_note(storage: LocalStorage) -> None:
    parts = message(file("application/zip", DATA_PDF_URL, "a.zip"))
    [prepared] = await rules(storage, object()).prepare(parts, strict=False)
    assert isinstance(prepared.content[1], TextPart)
    assert prepared.content[1].text.startswith("[Attachment not sent: the model some/model")


async def test_demo_takes_any_file_and_describes_it(storage: LocalStorage) -> None:
    parts = message(file("application/zip", "data:,PK", "a.zip"))
    prepared = await rules(storage, DemoProvider()).prepare(parts)
    events = await collect(DemoProvider(word_delay=0), ModelRequest("chat-model", prepared))
    text = "".join(getattr(e, "text", "") for e in events)
    assert "a file “a.zip” (application/zip, 2 bytes)" in text


# --- the request bodies --------------------------------------------------------------------


@pytest.mark.parametrize("url", [OUR_PDF_URL, DATA_PDF_URL])
async def test_openai_body_carries_the_pdf_as_a_file_part(
    storage: LocalStorage, http: aiohttp.ClientSession, openai_server: FakeOpenAIServer, url: str
) -> None:
    provider = OpenAICompatProvider(http, openai_server.base_url, "sk-test", idle_timeout=5)
    prepared = await rules(storage, provider).prepare(
        message(file("application/pdf", url, "r.pdf"))
    )
    await collect(provider, ModelRequest("gpt-4.1", prepared))
    content = openai_server.requests[0].json()["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "Read"},
        {"type": "file", "file": {"filename": "r.pdf", "file_data": DATA_PDF_URL}},
    ]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (OUR_PDF_URL, {"type": "base64", "media_type": "application/pdf",
                       "data": base64.b64encode(PDF).decode()}),
        (DATA_PDF_URL, {"type": "base64", "media_type": "application/pdf",
                        "data": base64.b64encode(PDF).decode()}),
        (EXTERNAL_PDF_URL, {"type": "url", "url": EXTERNAL_PDF_URL}),
    ],
)  # fmt: skip
async def test_anthropic_body_carries_the_pdf_as_a_document(
    storage: LocalStorage,
    http: aiohttp.ClientSession,
    anthropic_server: FakeAnthropicServer,
    url: str,
    source: dict[str, str],
) -> None:
    provider = AnthropicProvider(http, anthropic_server.base_url, "sk-ant", idle_timeout=5)
    prepared = await rules(storage, provider).prepare(
        message(file("application/pdf", url, "r.pdf"))
    )
    await collect(provider, ModelRequest("claude-haiku-4-5", prepared))
    [turn] = anthropic_server.requests[0].json()["messages"]
    assert turn["content"] == [
        {"type": "text", "text": "Read"},
        {"type": "document", "source": source, "title": "r.pdf"},
    ]


async def test_inlined_text_reaches_both_providers_as_text(
    storage: LocalStorage,
    http: aiohttp.ClientSession,
    openai_server: FakeOpenAIServer,
    anthropic_server: FakeAnthropicServer,
) -> None:
    parts = message(file("text/markdown", f"/api/files/{STORED_TEXT}", "notes.md"))
    inlined = '<file name="notes.md" type="text/markdown">\n# Notes\nsecond line\n</file>'
    openai = OpenAICompatProvider(http, openai_server.base_url, "sk-test", idle_timeout=5)
    await collect(openai, ModelRequest("gpt-4.1", await rules(storage, openai).prepare(parts)))
    assert openai_server.requests[0].json()["messages"][-1]["content"] == "Read" + inlined
    anthropic = AnthropicProvider(http, anthropic_server.base_url, "sk-ant", idle_timeout=5)
    prepared = await rules(storage, anthropic).prepare(parts)
    await collect(anthropic, ModelRequest("claude-haiku-4-5", prepared))
    blocks = anthropic_server.requests[0].json()["messages"][0]["content"]
    assert blocks == [{"type": "text", "text": "Read"}, {"type": "text", "text": inlined}]


async def test_images_stay_urls(storage: LocalStorage) -> None:
    parts = message(file("image/png", "https://example.com/a.png"))
    [prepared] = await rules(storage, object()).prepare(parts)
    assert prepared.content[1] == ImagePart("https://example.com/a.png", "image/png")


# --- usage ---------------------------------------------------------------------------------


async def test_openai_usage_fills_cached_and_reasoning_tokens(
    http: aiohttp.ClientSession, openai_server: FakeOpenAIServer
) -> None:
    events = [*text_stream(["Hi"], usage=None), usage_chunk(100, 30, reasoning=12, cached=64)]
    openai_server.queue(stream_reply(events))
    provider = OpenAICompatProvider(http, openai_server.base_url, "sk-test", idle_timeout=5)
    finish = finish_of(await collect(provider, ModelRequest("gpt-4.1", message())))
    usage = finish.usage
    assert (usage.input_tokens, usage.output_tokens) == (100, 30)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (64, 12)
    assert finish.model == "fake-model"


async def test_anthropic_usage_counts_cache_reads_and_writes(
    http: aiohttp.ClientSession, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.queue(
        messages_reply([text_block(["Hi"])], input_tokens=5, cache_read=200, cache_creation=40)
    )
    provider = AnthropicProvider(http, anthropic_server.base_url, "sk-ant", idle_timeout=5)
    finish = finish_of(await collect(provider, ModelRequest("claude-haiku-4-5", message())))
    usage = finish.usage
    assert usage.input_tokens == 245  # uncached 5 + read 200 + written 40
    assert (usage.cached_input_tokens, usage.cache_write_input_tokens) == (200, 40)
    assert finish.model == "claude-fake"
