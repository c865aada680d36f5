"""Azure OpenAI: the OpenAI-compatible provider on Azure's URLs and auth (api-key or Entra ID).

Azure streams the same Chat Completions SSE as OpenAI (plus content-filter annotations, which
the shared parser skips), so only the URL and the auth header differ.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import aiohttp

from chatbot_api.ai.base import ModelRequest
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider

API_VERSION_V1 = "v1"  # the v1 API: `/openai/v1/…`, the model in the body, no api-version
DEFAULT_API_VERSION = "2024-10-21"  # the latest GA version of the deployments API


class AzureOpenAIProvider(OpenAICompatProvider):
    """Posts to `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
    with the request's model as the deployment; with `api_version="v1"` to
    `{endpoint}/openai/v1/chat/completions` with the model in the body. Authenticates with
    an `api-key` header or a Microsoft Entra ID token (`Authorization: Bearer`): one of them."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoint: str,
        *,
        api_key: str | None = None,
        ad_token: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        name: str = "azure-openai",
        idle_timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if bool(api_key) == bool(ad_token):
            raise ValueError("AzureOpenAIProvider takes exactly one of api_key and ad_token")
        root = endpoint.rstrip("/") + "/openai"
        v1 = api_version == API_VERSION_V1
        super().__init__(
            http, root + "/v1" if v1 else root, ad_token, name=name,
            max_tokens_field="max_completion_tokens", think_tags=False,
            extra_headers={"api-key": api_key} if api_key else None,
            idle_timeout=idle_timeout, connect_timeout=connect_timeout,
        )  # fmt: skip
        self._deployments = None if v1 else root + "/deployments/"
        self._tail = "/chat/completions?" + urlencode({"api-version": api_version})

    def url_for(self, request: ModelRequest) -> str:
        if self._deployments is None:
            return self._url
        return self._deployments + quote(request.model, safe="") + self._tail
