"""Who calls `/v1` and the services they get, body-size guards, the base URL, error docs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from chatbot_api.auth.dependencies import CurrentUser, SettingsDep
from chatbot_api.cloud.attachments import AttachmentService
from chatbot_api.cloud.errors import PayloadTooLarge
from chatbot_api.cloud.proxy import CloudProxy, ProxyThreadService
from chatbot_api.cloud.service import ThreadService
from chatbot_api.cloud.telemetry import TelemetryService
from chatbot_api.cloud.titles import TitleRun
from chatbot_api.core.schemas import CloudError
from chatbot_api.db.session import SessionDep

ERROR_DESCRIPTIONS = {
    400: "Invalid input; `message` names the field",
    401: "Missing, invalid or expired bearer token",
    403: "Not allowed",
    404: "Not found (also: the thread belongs to another user)",
    409: "Conflict",
    413: "The body is too large",
    429: "Too many requests; see Retry-After",
    503: "A backing service is unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the given error statuses, all with the `{message, error}` body."""
    return {
        status: {"model": CloudError, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def body_limit(max_bytes: int) -> Any:
    """A dependency answering 413 when the declared body is larger than `max_bytes`."""

    async def dependency(request: Request) -> None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise PayloadTooLarge(f"The body is over the {max_bytes}-byte limit of this route")

    return Depends(dependency)


async def get_thread_service(
    request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> ThreadService:
    if settings.assistant_ui_base_url:  # proxy mode: the hosted cloud is the store
        return ProxyThreadService(
            session, user, settings.assistant_cloud_project_id, cloud_proxy(request)
        )
    return ThreadService(session, user, settings.assistant_cloud_project_id)


def cloud_proxy(request: Request) -> CloudProxy:
    """The app's one CloudProxy (its user-token cache), made on first use."""
    state = request.app.state
    proxy: CloudProxy | None = getattr(state, "cloud_proxy", None)
    if proxy is None:
        proxy = state.cloud_proxy = CloudProxy(state.settings, state.http)
    return proxy


ThreadServiceDep = Annotated[ThreadService, Depends(get_thread_service)]


async def get_telemetry_service(session: SessionDep, user: CurrentUser) -> TelemetryService:
    return TelemetryService(session, user)


TelemetryServiceDep = Annotated[TelemetryService, Depends(get_telemetry_service)]


async def get_title_run(request: Request, settings: SettingsDep) -> TitleRun:
    state = request.app.state
    return TitleRun(
        state.session_factory,
        getattr(state, "models", None),
        settings.assistant_cloud_title_timeout_seconds,
    )


TitleRunDep = Annotated[TitleRun, Depends(get_title_run)]


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, or 413 as soon as it is known to be over `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The file is over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The file is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def base_url(request: Request, settings: SettingsDep) -> str:
    """How clients reach this service: PUBLIC_BASE_URL, else the request's own base URL."""
    return settings.public_base_url or str(request.base_url)


BaseUrl = Annotated[str, Depends(base_url)]


async def get_attachment_service(
    request: Request, session: SessionDep, settings: SettingsDep
) -> AttachmentService:
    return AttachmentService(session, settings, request.app.state.storage)


AttachmentServiceDep = Annotated[AttachmentService, Depends(get_attachment_service)]
