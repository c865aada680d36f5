"""`createDocument` / `updateDocument`: stream a document from the artifact model, save versions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot_api.ai import prompts
from chatbot_api.ai.base import ModelMessage, ModelRequest, TextDelta, TextPart
from chatbot_api.ai.resilience import open_stream
from chatbot_api.ai.tools.base import Tool, ToolContext, ToolFailed
from chatbot_api.core.errors import AppError, DocumentForbidden
from chatbot_api.documents import service as documents
from chatbot_api.documents.models import Document

NOT_FOUND = {"error": "Document not found"}
FOREIGN = "This document belongs to another user."
CREATED = "A document was created and is now visible to the user."
UPDATED = "The document has been updated successfully."
ArtifactKind = Literal["text", "code", "sheet"]
_DELTA_PART = {"text": "textDelta", "code": "codeDelta", "sheet": "sheetDelta"}


class CreateDocumentInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1, max_length=256)
    kind: ArtifactKind


class UpdateDocumentInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(description="The ID of the document to update", max_length=100)
    description: str = Field(
        description="The description of changes that need to be made", max_length=4000
    )


class CreateDocument(Tool):
    name = "createDocument"
    description = (
        "Create a document for writing or content creation. Its content is generated from the "
        "title and kind (text, code or sheet) and shown to the user in a side panel."
    )
    input_model: ClassVar[type[BaseModel]] = CreateDocumentInput

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        assert isinstance(args, CreateDocumentInput)
        doc_id = str(uuid.uuid4())
        for name, value in (("kind", args.kind), ("id", doc_id), ("title", args.title)):
            ctx.sink.data(name, value, transient=True)
        ctx.sink.data("clear", None, transient=True)
        system = prompts.artifact_create_prompt(args.kind)
        content = await stream_content(ctx, args.kind, system, args.title, final_sheet=True)
        await save(ctx, uuid.UUID(doc_id), args.title, args.kind, content)
        ctx.sink.data("finish", None, transient=True)
        return {"id": doc_id, "title": args.title, "kind": args.kind, "content": CREATED}


class UpdateDocument(Tool):
    name = "updateDocument"
    description = "Update a document with the given description of the changes."
    input_model: ClassVar[type[BaseModel]] = UpdateDocumentInput

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        assert isinstance(args, UpdateDocumentInput)
        document = await load_latest(ctx, args.id)
        if document is None:
            return NOT_FOUND
        if document.kind not in _DELTA_PART:
            raise ToolFailed(f"Documents of kind {document.kind!r} cannot be updated.")
        ctx.sink.data("clear", None, transient=True)
        system = prompts.update_document_prompt(document.content, document.kind)
        content = await stream_content(ctx, document.kind, system, args.description)
        await save(ctx, document.id, document.title, document.kind, content)
        ctx.sink.data("finish", None, transient=True)
        return {
            "id": str(document.id),
            "title": document.title,
            "kind": document.kind,
            "content": UPDATED,
        }


async def load_latest(ctx: ToolContext, raw_id: str) -> Document | None:
    """The caller's document, or None when unknown; ToolFailed when it is someone else's."""
    try:
        doc_id = uuid.UUID(raw_id.strip())
    except ValueError:
        return None
    async with ctx.session_factory() as session:
        try:
            return await documents.get_latest_version(session, doc_id, ctx.user_id)
        except DocumentForbidden:
            raise ToolFailed(FOREIGN) from None


async def save(ctx: ToolContext, doc_id: uuid.UUID, title: str, kind: str, content: str) -> None:
    async with ctx.session_factory() as session:
        try:
            await documents.save_version(
                session, doc_id=doc_id, title=title, kind=kind, content=content, user_id=ctx.user_id
            )
        except DocumentForbidden:
            raise ToolFailed(FOREIGN) from None
        except AppError as exc:
            raise ToolFailed(exc.cause or exc.message) from None
        await session.commit()


async def stream_content(
    ctx: ToolContext, kind: str, system: str, prompt: str, *, final_sheet: bool = False
) -> str:
    """Stream the artifact model's text as `data-<kind>Delta` parts; return the content.

    Text deltas are incremental; code and sheet deltas carry the whole content so far
    (markdown fences removed). A new sheet ends with one more delta holding the final CSV.
    """
    part = _DELTA_PART[kind]
    raw = ""
    content = ""
    async for delta in artifact_text(ctx, system, prompt):
        raw += delta
        if kind == "text":
            content = raw
            ctx.sink.data(part, delta, transient=True)
            continue
        cleaned = strip_fences(raw)
        if cleaned and cleaned != content:
            content = cleaned
            ctx.sink.data(part, content, transient=True)
    if kind == "sheet" and final_sheet:
        ctx.sink.data(part, content, transient=True)
    return content


async def artifact_text(ctx: ToolContext, system: str, prompt: str) -> AsyncIterator[str]:
    """The artifact model's text deltas for one prompt."""
    resolved = ctx.registry.artifact_model()
    request = ModelRequest(
        model=resolved.targets[0].upstream_model,
        system=system,
        messages=[ModelMessage(role="user", content=[TextPart(text=prompt)])],
    )
    events, _ = await open_stream(resolved.targets, request, resolved.retry)
    async for event in events:
        if isinstance(event, TextDelta):
            yield event.text


def strip_fences(text: str) -> str:
    """Content without a surrounding markdown code fence (``` or ```python … ```)."""
    stripped = text.strip()
    if not stripped.startswith("```"):
        return stripped
    newline = stripped.find("\n")
    if newline < 0:
        return ""
    body = stripped[newline + 1 :]
    end = body.rfind("```")
    if end >= 0 and body[end:].strip() == "```":
        body = body[:end]
    return body.rstrip()
