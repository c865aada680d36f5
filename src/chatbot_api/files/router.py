"""HTTP routes of the files domain: `POST /api/files/upload` and serving local uploads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from chatbot_api.auth.dependencies import AuthUser, SettingsDep, bearer_scheme, optional_user
from chatbot_api.core.errors import AppError
from chatbot_api.files import service
from chatbot_api.files.multipart import BodyEmpty, BodyTooLarge, FormUnreadable, read_form_file
from chatbot_api.files.schemas import UploadErrorBody, UploadResult
from chatbot_api.files.storage import Storage

router = APIRouter(tags=["files"])

FILE_FIELD = "file"
SERVE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {
                    FILE_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": (
                            "A JPEG or PNG image of at most 5 MiB (5,242,880 bytes); with "
                            "ALLOW_DOCUMENT_ATTACHMENTS also a PDF or a UTF-8 text file "
                            "(txt, md, csv, json)"
                        ),
                    }
                },
            }
        }
    },
}


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]


async def upload_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AuthUser | None:
    """The caller, or None when absent or invalid (this route answers `{"error": …}`)."""
    try:
        return await optional_user(request, credentials)
    except AppError:
        return None


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.post(
    "/upload",
    summary="Upload a JPEG or PNG attachment",
    response_model=UploadResult,
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={
        400: {"model": UploadErrorBody, "description": "No file, too large, not JPEG/PNG"},
        401: {"model": UploadErrorBody, "description": '`{"error": "Unauthorized"}`'},
        500: {"model": UploadErrorBody, "description": '`{"error": "Upload failed"}`'},
    },
)
async def upload_file(
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    user: Annotated[AuthUser | None, Depends(upload_caller)],
) -> UploadResult | JSONResponse:
    if user is None:
        return _error("Unauthorized", 401)
    try:
        upload = await read_form_file(request, FILE_FIELD, settings.max_upload_bytes)
    except BodyEmpty:
        return _error("Request body is empty", 400)
    except BodyTooLarge:
        return _error(service.TOO_LARGE, 400)
    except FormUnreadable:
        return _error("Failed to process request", 400)
    if upload is None:
        return _error("No file uploaded", 400)
    try:
        documents = settings.allow_document_attachments
        stored = await service.upload_image(storage, upload, documents=documents)
    except service.UploadRejected as exc:
        return _error(exc.message, exc.status)
    return UploadResult.from_stored(stored, str(request.base_url))


@router.get(
    "/{pathname}",
    summary="Read a file stored by the local storage backend",
    response_class=FileResponse,
    responses={
        200: {
            "content": {t: {} for t in ("image/png", "image/jpeg", "application/pdf")},
            "description": "The file",
        },
        404: {"description": "No such file (or storage is not local)"},
    },
)
async def read_file(
    pathname: str,
    storage: StorageDep,
    download: Annotated[bool, Query(description="Send as an attachment")] = False,
) -> FileResponse:
    found = await service.find_stored_file(storage, pathname)
    return FileResponse(
        found.path,
        media_type=found.content_type,
        headers=SERVE_HEADERS,
        filename=pathname,
        content_disposition_type="attachment" if download else "inline",
    )
