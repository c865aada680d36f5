"""HTTP routes of the documents domain: `/api/document` (versions) and `/api/suggestions`."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from chatbot_api.auth.dependencies import DocumentUser, SuggestionsUser
from chatbot_api.core.errors import BadRequest
from chatbot_api.core.schemas import ErrorEnvelope
from chatbot_api.db.session import SessionDep
from chatbot_api.documents import service
from chatbot_api.documents.schemas import DocumentOut, DocumentSaveIn, SuggestionOut

router = APIRouter(tags=["documents"])


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


def _required_uuid(name: str, missing_cause: str) -> Any:
    """A dependency reading the UUID query parameter `name`; 400 `missing_cause` if absent.

    Declared before the user dependency, so a missing parameter is reported before a
    missing sign-in, as upstream does. (This module avoids `from __future__ import
    annotations`: FastAPI must see this closure's annotation as an object.)
    """

    async def dependency(
        value: Annotated[
            str | None, Query(alias=name, description=f"Required. The {name} (a UUID).")
        ] = None,
    ) -> uuid.UUID:
        if not value:
            raise BadRequest(missing_cause)
        return service.parse_uuid(value, name)

    return Depends(dependency)


async def _timestamp(
    timestamp: Annotated[
        str | None,
        Query(
            description="Required. Keep the version created at this time (ISO-8601, e.g. a "
            "returned `createdAt`); later versions and their suggestions are deleted."
        ),
    ] = None,
) -> datetime:
    if not timestamp:
        raise BadRequest("Parameter timestamp is required.")
    return service.parse_timestamp(timestamp)


DocumentIdToRead = Annotated[uuid.UUID, _required_uuid("id", "Parameter id is missing")]
DocumentIdToWrite = Annotated[uuid.UUID, _required_uuid("id", "Parameter id is required.")]
SuggestionsDocumentId = Annotated[
    uuid.UUID, _required_uuid("documentId", "Parameter documentId is required.")
]
Timestamp = Annotated[datetime, Depends(_timestamp)]

_NO_ID = "The id is missing or not a UUID, or the input is invalid."
_NOT_SIGNED_IN = "Nobody is signed in."
_FOREIGN = "The document belongs to another user."


@router.get(
    "/document",
    summary="All versions of a document, oldest first",
    responses={
        400: _error(_NO_ID),
        401: _error(_NOT_SIGNED_IN),
        403: _error(_FOREIGN),
        404: _error("The document has no versions."),
    },
)
async def get_document(
    doc_id: DocumentIdToRead, user: DocumentUser, session: SessionDep
) -> list[DocumentOut]:
    versions = await service.list_versions(session, doc_id, user.id)
    return [DocumentOut.from_row(row) for row in versions]


@router.post(
    "/document",
    summary="Save a new version of a document (a new id creates it)",
    description="The body is read as JSON whatever its Content-Type (the ai-chatbot client "
    "sends text/plain). Returns a one-element array with the saved version.",
    responses={
        400: _error("The id is missing or not a UUID, or a body field is invalid."),
        401: _error(_NOT_SIGNED_IN),
        403: _error(_FOREIGN),
    },
)
async def save_document(
    doc_id: DocumentIdToWrite, user: DocumentUser, session: SessionDep, body: DocumentSaveIn
) -> list[DocumentOut]:
    saved = await service.save_version(
        session,
        doc_id=doc_id,
        title=body.title,
        kind=body.kind,
        content=body.content,
        user_id=user.id,
    )
    return [DocumentOut.from_row(saved)]


@router.delete(
    "/document",
    summary="Revert a document: delete the versions later than a timestamp",
    description="Deletes the suggestions of the later versions, then those versions; the "
    "version created exactly at `timestamp` survives. Returns the deleted versions, oldest "
    "first (possibly `[]`).",
    responses={
        400: _error("The id or timestamp is missing or unparsable."),
        401: _error(_NOT_SIGNED_IN),
        403: _error(_FOREIGN),
        404: _error("The document has no versions."),
    },
)
async def revert_document(
    doc_id: DocumentIdToWrite, timestamp: Timestamp, user: DocumentUser, session: SessionDep
) -> list[DocumentOut]:
    deleted = await service.revert_to(session, doc_id, timestamp, user.id)
    return [DocumentOut.from_row(row) for row in deleted]


@router.get(
    "/suggestions",
    summary="All suggestions of a document (every version)",
    description="`[]` when the document has none or does not exist.",
    responses={
        400: _error("The documentId is missing or not a UUID."),
        401: _error(_NOT_SIGNED_IN),
        403: _error(_FOREIGN + " (code `forbidden:api`)"),
    },
)
async def get_suggestions(
    doc_id: SuggestionsDocumentId, user: SuggestionsUser, session: SessionDep
) -> list[SuggestionOut]:
    rows = await service.list_suggestions(session, doc_id, user.id)
    return [SuggestionOut.from_row(row) for row in rows]
