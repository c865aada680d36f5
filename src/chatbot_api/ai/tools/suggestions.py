"""`requestSuggestions`: writing suggestions for the caller's document, streamed and saved."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from chatbot_api.ai import prompts
from chatbot_api.ai.tools.base import Tool, ToolContext, ToolFailed
from chatbot_api.ai.tools.documents import FOREIGN, NOT_FOUND, artifact_text, load_latest
from chatbot_api.core.errors import DocumentForbidden, DocumentNotFound
from chatbot_api.documents import service as documents
from chatbot_api.documents.models import Document
from chatbot_api.documents.schemas import SuggestionDraft

MAX_SUGGESTIONS = prompts.MAX_SUGGESTIONS
ADDED = "Suggestions have been added to the document"


class RequestSuggestionsInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    document_id: str = Field(
        alias="documentId",
        max_length=100,
        description=(
            "The UUID of an existing document artifact that was previously created with "
            "createDocument"
        ),
    )


class RequestSuggestions(Tool):
    name = "requestSuggestions"
    description = (
        "Request writing suggestions for an existing document artifact. Only use this when the "
        "user explicitly asks to improve or get suggestions for a document they have already "
        "created. Never use for general questions."
    )
    input_model: ClassVar[type[BaseModel]] = RequestSuggestionsInput

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        assert isinstance(args, RequestSuggestionsInput)
        document = await load_latest(ctx, args.document_id)
        if document is None or not document.content:
            return NOT_FOUND
        drafts = await self._stream(ctx, document)
        async with ctx.session_factory() as session:
            try:
                await documents.save_suggestions(
                    session, document=document, suggestions=drafts, user_id=ctx.user_id
                )
            except DocumentForbidden:
                raise ToolFailed(FOREIGN) from None
            except DocumentNotFound:
                return NOT_FOUND
            await session.commit()
        return {
            "id": str(document.id),
            "title": document.title,
            "kind": document.kind,
            "message": ADDED,
        }

    async def _stream(self, ctx: ToolContext, document: Document) -> list[SuggestionDraft]:
        """Emit each complete suggestion line as a transient `data-suggestion` part."""
        drafts: list[SuggestionDraft] = []
        buffer = ""
        system = prompts.SUGGESTIONS_PROMPT
        assert document.content is not None
        async for delta in artifact_text(ctx, system, document.content):
            buffer += delta
            *lines, buffer = buffer.split("\n")
            for line in lines:
                self._emit(ctx, document, line, drafts)
        self._emit(ctx, document, buffer, drafts)
        return drafts

    @staticmethod
    def _emit(
        ctx: ToolContext, document: Document, line: str, drafts: list[SuggestionDraft]
    ) -> None:
        draft = parse_suggestion(line)
        if draft is None or len(drafts) >= MAX_SUGGESTIONS:
            return
        drafts.append(draft)
        payload = {
            "originalText": draft.original_text,
            "suggestedText": draft.suggested_text,
            "description": draft.description,
            "id": str(draft.id),
            "documentId": str(document.id),
            "isResolved": False,
        }
        ctx.sink.data("suggestion", payload, transient=True)


def parse_suggestion(line: str) -> SuggestionDraft | None:
    """One JSON Lines suggestion with all three fields non-empty, or None."""
    line = line.strip().rstrip(",")
    if not line.startswith("{"):
        return None
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(item, dict):
        return None
    fields = [item.get(key) for key in ("originalSentence", "suggestedSentence", "description")]
    if not all(isinstance(value, str) and value.strip() for value in fields):
        return None
    original, suggested, description = (str(value) for value in fields)
    return SuggestionDraft(
        original_text=original, suggested_text=suggested, description=description
    )
