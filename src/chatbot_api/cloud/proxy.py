"""Proxy mode (ASSISTANT_UI_BASE_URL): `/v1` threads and messages live in a hosted Assistant
Cloud. Calls carry a per-user token minted with the workspace API key, have timeouts, retry
idempotent methods, and turn the upstream's failures into clear `{message, error}` errors."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth.identity import AuthUser
from chatbot_api.cloud.errors import CloudForbidden
from chatbot_api.cloud.schemas import (
    MessageCreate,
    MessageOut,
    ThreadCreate,
    ThreadOut,
    ThreadUpdate,
)
from chatbot_api.cloud.service import ThreadService
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import AppError
from chatbot_api.db.types import iso_ms, utcnow

M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger("chatbot_api.cloud.proxy")
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
TOKEN_MARGIN_SECONDS = 30
BACKOFF_SECONDS = 0.2


class UpstreamUnavailable(AppError):
    """502: the hosted cloud failed or could not be reached; nothing was changed here."""

    code = "offline:assistant_cloud"

    @property
    def status(self) -> int:
        return 502


class UpstreamTimeout(AppError):
    """504: the hosted cloud did not answer in time."""

    code = "timeout:assistant_cloud"

    @property
    def status(self) -> int:
        return 504


class UpstreamRejected(AppError):
    """The hosted cloud refused the call (4xx): its status and message are passed on."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message, code=code)
        self._status = status

    @property
    def status(self) -> int:
        return self._status


class CloudProxy:
    """One per app: the upstream's base URL, credentials and a cache of user tokens."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.assistant_ui_base_url
        self.base = settings.assistant_ui_base_url.rstrip("/") + "/v1"
        key = settings.assistant_ui_api_key
        self.api_key = key.get_secret_value() if key else ""
        self.workspace = settings.assistant_ui_workspace_id or "default"
        self.timeout = httpx.Timeout(settings.assistant_ui_timeout_seconds)
        self.retries = settings.assistant_ui_retries
        self.http = http
        self._tokens: dict[uuid.UUID, tuple[str, float]] = {}

    async def call(
        self,
        user_id: uuid.UUID,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The upstream's JSON answer (None for an empty body); errors as AppErrors."""
        for fresh_token in (False, True):
            token = await self._token(user_id, fresh=fresh_token)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            response = await self._send(method, path, headers=headers, json=json, params=params)
            if response.status_code == 401 and not fresh_token:
                continue  # the cached token expired early upstream: mint one and try again
            return _result(response)
        raise AssertionError("unreachable")

    async def _token(self, user_id: uuid.UUID, *, fresh: bool) -> str:
        cached = self._tokens.get(user_id)
        if cached is not None and not fresh and cached[1] > time.time() + TOKEN_MARGIN_SECONDS:
            return cached[0]
        headers = {
            "aui-user-id": str(user_id),
            "aui-workspace-id": self.workspace,
            "content-type": "application/json",
        }
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        response = await self._send("POST", "/auth/tokens", headers=headers, retry=True)
        body = _result(response)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise UpstreamUnavailable("The Assistant Cloud sent no user token.")
        self._tokens[user_id] = (token, _expiry(token))
        return token

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Retries idempotent calls (and token mints) on timeouts, connection errors and
        502/503/504; any other call only when the connection could not be made at all."""
        retry = method in IDEMPOTENT if retry is None else retry
        content = orjson.dumps(json) if json is not None else None
        url = self.base + path
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = await self.http.request(
                    method, url, headers=headers, content=content, params=params,
                    timeout=self.timeout,
                )  # fmt: skip
            except httpx.ConnectError as exc:
                if last:
                    log.warning("assistant cloud unreachable", url=url, error=str(exc))
                    raise UpstreamUnavailable("The Assistant Cloud could not be reached.") from exc
            except httpx.TimeoutException as exc:
                if last or not retry:
                    raise UpstreamTimeout("The Assistant Cloud did not answer in time.") from exc
            except httpx.HTTPError as exc:
                if last or not retry:
                    log.warning("assistant cloud call failed", url=url, error=str(exc))
                    raise UpstreamUnavailable("The Assistant Cloud call failed.") from exc
            else:
                if not (retry and response.status_code in RETRY_STATUSES and not last):
                    return response
            await asyncio.sleep(BACKOFF_SECONDS * (attempt + 1))
        raise AssertionError("unreachable")


def _result(response: httpx.Response) -> Any:
    status = response.status_code
    body: Any = None
    if response.content:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
    if status < 300:
        return body
    message = body.get("message") if isinstance(body, dict) else None
    code = body.get("error") if isinstance(body, dict) else None
    if 400 <= status < 500:
        text = str(message or f"The Assistant Cloud refused the call ({status}).")[:500]
        raise UpstreamRejected(status, text, str(code or f"upstream:{status}")[:100])
    log.warning("assistant cloud error", status=status, message=str(message)[:200])
    raise UpstreamUnavailable(f"The Assistant Cloud failed ({status}).")


def _expiry(token: str) -> float:
    """The JWT's `exp` (unverified: it is the upstream's token, only used as a cache hint)."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return time.time() + 60


class ProxyThreadService(ThreadService):
    """The threads API with the hosted cloud as the store (same methods, same objects)."""

    def __init__(
        self, session: AsyncSession, user: AuthUser, project_id: str, proxy: CloudProxy
    ) -> None:
        super().__init__(session, user, project_id)
        self.proxy = proxy

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.proxy.call(self.user.id, method, path, **kwargs)

    async def list_threads(
        self, *, archived: bool, limit: int, after: str | None
    ) -> list[ThreadOut]:
        params: dict[str, Any] = {"limit": limit, "is_archived": "true" if archived else "false"}
        if after is not None:
            params["after"] = after
        body = await self._call("GET", "/threads", params=params)
        return [_parse(ThreadOut, t) for t in _list(body, "threads")]

    async def get_thread(self, thread_id: str) -> ThreadOut:
        body = await self._call("GET", f"/threads/{_quote(thread_id)}")
        return _parse(ThreadOut, body.get("thread") if isinstance(body, dict) else None)

    async def create_thread(self, body: ThreadCreate) -> str:
        data = body.model_dump(mode="json", exclude_none=True)
        data.setdefault("last_message_at", _now_iso())
        created = await self._call("POST", "/threads", json=data)
        return _field(created, "thread_id")

    async def update_thread(self, thread_id: str, body: ThreadUpdate) -> None:
        data = body.model_dump(mode="json", include=body.model_fields_set)
        await self._call("PUT", f"/threads/{_quote(thread_id)}", json=data)

    async def set_title(self, thread_id: uuid.UUID, title: str) -> bool:
        await self._call("PUT", f"/threads/{thread_id}", json={"title": title})
        return True

    async def delete_thread(self, thread_id: str) -> None:
        await self._call("DELETE", f"/threads/{_quote(thread_id)}")

    async def create_message(self, thread_id: str, body: MessageCreate) -> str:
        data = body.model_dump(mode="json")
        created = await self._call("POST", f"/threads/{_quote(thread_id)}/messages", json=data)
        return _field(created, "message_id")

    async def list_messages(
        self, thread_id: str, *, format: str | None, limit: int | None, after: str | None
    ) -> list[MessageOut]:
        params = {k: v for k, v in {"format": format, "limit": limit, "after": after}.items() if v}
        body = await self._call("GET", f"/threads/{_quote(thread_id)}/messages", params=params)
        return [_parse(MessageOut, m) for m in _list(body, "messages")]

    async def update_message(
        self, thread_id: str, message_id: str, content: dict[str, Any]
    ) -> None:
        path = f"/threads/{_quote(thread_id)}/messages/{_quote(message_id)}"
        await self._call("PUT", path, json={"content": content})

    async def claim(self, refresh_token: str) -> int:
        raise CloudForbidden("Claiming threads is not available in proxy mode")


def _quote(value: str) -> str:
    return quote(value, safe="")


def _now_iso() -> str:
    return iso_ms(utcnow())


def _list(body: Any, key: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise UpstreamUnavailable(f"The Assistant Cloud sent no {key} list.")
    return items


def _field(body: Any, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise UpstreamUnavailable(f"The Assistant Cloud sent no {key}.")
    return value


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UpstreamUnavailable("The Assistant Cloud sent an unexpected answer.") from exc
