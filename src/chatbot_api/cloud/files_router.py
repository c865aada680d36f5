"""HTTP routes of `/v1/files/attachments`: signed upload URLs, the upload PUT, public reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from chatbot_api.auth.dependencies import CurrentUser, SettingsDep
from chatbot_api.cloud.attachments import media_type
from chatbot_api.cloud.dependencies import (
    AttachmentServiceDep,
    BaseUrl,
    body_limit,
    errors,
    read_capped_body,
)
from chatbot_api.cloud.schemas import CloudRequest

router = APIRouter(prefix="/files/attachments", tags=["assistant cloud: attachments"])

SERVE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
KEY_PATH = "/{key}"


class UploadUrlRequest(CloudRequest):
    filename: str = Field(min_length=1, max_length=255)


class DownloadUrlRequest(CloudRequest):
    key: str | None = Field(default=None, max_length=128)
    url: str | None = Field(default=None, max_length=2048)

    @model_validator(mode="after")
    def _one_of(self) -> DownloadUrlRequest:
        if not self.key and not self.url:
            raise ValueError("key or url is required")
        return self


class _CamelOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UploadUrlOut(_CamelOut):
    success: bool = True
    signed_url: str
    expires_at: str
    public_url: str
    key: str


class DownloadUrlOut(_CamelOut):
    signed_url: str
    expires_at: str
    key: str


@router.post(
    "/generate-presigned-upload-url",
    responses=errors(400, 401),
    dependencies=[body_limit(16 * 1024)],
    summary="Get a signed URL to PUT a file to, and the URL it will be served at",
)
async def upload_url(
    body: UploadUrlRequest, user: CurrentUser, service: AttachmentServiceDep, base: BaseUrl
) -> UploadUrlOut:
    url = await service.upload_url(user.id, body.filename, base)
    return UploadUrlOut(
        signed_url=url.signed_url, expires_at=url.expires_at, public_url=url.public_url, key=url.key
    )


@router.post(
    "/generate-presigned-download-url",
    responses=errors(400, 401, 404),
    dependencies=[body_limit(16 * 1024)],
    summary="Get a URL to read one of the caller's attachments",
)
async def download_url(
    body: DownloadUrlRequest, user: CurrentUser, service: AttachmentServiceDep, base: BaseUrl
) -> DownloadUrlOut:
    url = await service.download_url(user.id, body.key, body.url, base)
    return DownloadUrlOut(signed_url=url.signed_url, expires_at=url.expires_at, key=url.key)


@router.put(
    KEY_PATH,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 403, 404, 409, 413, 503),
    summary="Upload the file's raw bytes to a signed URL (no bearer token needed)",
)
async def upload(
    key: str,
    token: Annotated[str, Query(max_length=2048)],
    request: Request,
    service: AttachmentServiceDep,
    settings: SettingsDep,
) -> None:
    service.check_upload_token(key, token)
    data = await read_capped_body(request, settings.assistant_cloud_max_attachment_bytes)
    await service.store(key, data, media_type(request.headers.get("content-type")))


@router.get(
    KEY_PATH,
    response_class=Response,
    responses={
        200: {"description": "The file"},
        307: {"description": "Where the storage backend serves it"},
        **errors(404),
    },
    summary="Read an uploaded attachment (public: the key is unguessable)",
)
async def read(key: str, service: AttachmentServiceDep) -> Response:
    served = await service.served(key)
    if served.path is None:
        return RedirectResponse(served.url or "/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)
    return FileResponse(
        served.path,
        media_type=served.content_type,
        headers=SERVE_HEADERS,
        filename=served.filename,
        content_disposition_type="inline" if served.inline else "attachment",
    )
