"""The providers' HTTP client: one aiohttp session per app, its proxy read from the environment
once per provider URL (aiohttp's per-request environment lookup costs ~0.7 ms a call), and
the streaming POST every provider makes."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import certifi
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from chatbot_api.ai.providers.errors import http_error
from chatbot_api.ai.providers.sse import read_error_body


def create_llm_session() -> aiohttp.ClientSession:
    """For long-lived streams read chunk by chunk (aiohttp's C HTTP parser costs far less CPU
    per chunk than httpx): a pool sized for many at once, kept-alive connections, and
    certifi's CA bundle (what httpx, and so the rest of the app, trusts)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=2000,
            limit_per_host=0,
            ttl_dns_cache=300,
            keepalive_timeout=30,
            ssl=ssl.create_default_context(cafile=certifi.where()),
        ),
        trust_env=False,  # see env_proxy
    )


def stream_timeout(idle_timeout: float, connect_timeout: float) -> aiohttp.ClientTimeout:
    """A stream's limits: `connect` for a pooled connection or a new one (the pool's wait
    included); `sock_read` the longest silence from the request's end to the body's end."""
    return aiohttp.ClientTimeout(
        total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=idle_timeout
    )


def env_proxy(url: str) -> dict[str, Any]:
    """`proxy`/`proxy_auth` request arguments for `url` from HTTP(S)_PROXY, NO_PROXY and
    ~/.netrc (as `trust_env=True` would give each request), or none."""
    try:
        proxy, auth = get_env_proxy_for_url(URL(url))
    except LookupError:
        return {}
    return {"proxy": proxy, "proxy_auth": auth}


@asynccontextmanager
async def post_stream(
    http: aiohttp.ClientSession,
    url: str | URL,
    body: bytes,
    *,
    headers: dict[str, str],
    limits: aiohttp.ClientTimeout,
    proxy: dict[str, Any],
    provider: str,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST `body` (redirects not followed) and give the response once it is a success; any
    other status raises `http_error` (the body's start only in its detail; its headers for
    `retry-after`)."""
    async with http.post(
        url, data=body, headers=headers, timeout=limits, allow_redirects=False, **proxy
    ) as response:
        if response.status >= 300:
            body = await read_error_body(response)
            raise http_error(provider, response.status, body, response.headers)
        yield response
