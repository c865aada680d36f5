"""The Azure OpenAI provider against a fake Azure resource (its URLs, auth and annotations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from chatbot_api.ai.base import ModelRequest, ProviderError, TextDelta
from chatbot_api.ai.providers import errors
from chatbot_api.ai.providers.azure import AzureOpenAIProvider
from chatbot_api.ai.providers.http import create_llm_session
from chatbot_api.ai.registry import build_registry
from chatbot_api.core.config import ConfigError, Settings
from tests.ai.events import collect, collect_until_error, finish_of, summary, text_of, user
from tests.ai.test_registry import NO_PROVIDERS
from tests.fakes.azure_server import (
    FakeAzureOpenAIServer,
    azure_chunk,
    azure_error,
    azure_text_stream,
    azure_tool_call,
    prompt_filter_chunk,
    prompt_filtered_reply,
    rate_limited_reply,
)
from tests.fakes.openai_server import stream_reply

KEY = "azure-key-123"
TOKEN = "eyJ0eXAiOiJKV1Qi.entra.token"
DEPLOYMENT = "gpt4o-prod"
SECRET = "upstream-internal-detail-9c2e"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with create_llm_session() as client:
        yield client


def azure(**options: Any) -> FakeAzureOpenAIServer:
    options.setdefault("deployments", {DEPLOYMENT})
    return FakeAzureOpenAIServer(**options)


def provider(
    http: aiohttp.ClientSession, server: FakeAzureOpenAIServer, **options: Any
) -> AzureOpenAIProvider:
    if "ad_token" not in options:
        options.setdefault("api_key", KEY)
    return AzureOpenAIProvider(http, server.endpoint, idle_timeout=5.0, **options)


def request(model: str = DEPLOYMENT, **fields: Any) -> ModelRequest:
    return ModelRequest(model=model, messages=[user("Hi")], **fields)


async def test_request_goes_to_the_deployment_with_api_version_and_api_key(
    http: aiohttp.ClientSession,
) -> None:
    with azure(api_key=KEY) as server:
        events = await collect(provider(http, server), request(max_output_tokens=300))
    assert text_of(events) == "Hello from Azure."
    [sent] = server.requests
    assert sent.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21"
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers
    body = sent.json()
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body
    assert body["stream_options"] == {"include_usage": True}
    assert server.rejected == []


async def test_entra_id_token_is_sent_as_a_bearer_token(http: aiohttp.ClientSession) -> None:
    with azure(ad_token=TOKEN) as server:
        events = await collect(provider(http, server, ad_token=TOKEN), request())
    assert finish_of(events).reason == "stop"
    [sent] = server.requests
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in sent.headers


async def test_configured_api_version_is_the_query(http: aiohttp.ClientSession) -> None:
    with azure(api_key=KEY, api_version="2025-04-01-preview") as server:
        await collect(provider(http, server, api_version="2025-04-01-preview"), request())
    assert server.requests[0].path.endswith("?api-version=2025-04-01-preview")
    assert server.rejected == []


async def test_v1_api_puts_the_deployment_in_the_body_without_api_version(
    http: aiohttp.ClientSession,
) -> None:
    with azure(api_key=KEY) as server:
        events = await collect(provider(http, server, api_version="v1"), request())
    assert text_of(events) == "Hello from Azure."
    [sent] = server.requests
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.json()["model"] == DEPLOYMENT
    assert sent.headers["api-key"] == KEY


def test_provider_needs_exactly_one_credential() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AzureOpenAIProvider(None, "https://x.openai.azure.com")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exactly one"):
        AzureOpenAIProvider(
            None,  # type: ignore[arg-type]
            "https://x.openai.azure.com",
            api_key=KEY,
            ad_token=TOKEN,
        )


async def test_prompt_filter_and_annotation_chunks_are_not_content(
    http: aiohttp.ClientSession,
) -> None:
    with azure(api_key=KEY) as server:
        server.queue(stream_reply(azure_text_stream(["Hel", "lo"], usage=(9, 2))))
        events = await collect(provider(http, server), request())
    assert summary(events) == [("text", "Hello"), ("finish", "stop")]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]


async def test_content_filter_finish_becomes_the_content_filter_finish(
    http: aiohttp.ClientSession,
) -> None:
    events_out = azure_text_stream(["Once upon "], finish="content_filter", filtered="violence")
    with azure(api_key=KEY) as server:
        server.queue(stream_reply(events_out))
        events = await collect(provider(http, server), request())
    assert text_of(events) == "Once upon "
    assert finish_of(events).reason == "content-filter"


async def test_usage_reports_cached_input_and_reasoning_tokens(
    http: aiohttp.ClientSession,
) -> None:
    with azure(api_key=KEY) as server:
        stream = azure_text_stream(["ok"], usage=(2048, 300), cached=1920, reasoning=256)
        server.queue(stream_reply(stream))
        usage = finish_of(await collect(provider(http, server), request())).usage
    assert (usage.input_tokens, usage.output_tokens) == (2048, 300)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (1920, 256)


async def test_tool_call_streams_as_one_parsed_call(http: aiohttp.ClientSession) -> None:
    with azure(api_key=KEY) as server:
        server.queue(stream_reply(azure_tool_call("call_az1", "getWeather", '{"city":"Paris"}')))
        events = await collect(provider(http, server), request())
    assert summary(events)[-2:] == [
        ("tool-end", ("call_az1", "getWeather", {"city": "Paris"}, None)),
        ("finish", "tool-calls"),
    ]


async def test_prompt_content_filter_400_has_its_own_message(
    http: aiohttp.ClientSession,
) -> None:
    with azure(api_key=KEY) as server:
        server.queue(prompt_filtered_reply(SECRET))
        with pytest.raises(ProviderError) as caught:
            await collect(provider(http, server), request())
    assert caught.value.public_message == errors.MSG_CONTENT_FILTER
    assert caught.value.status == 400
    assert SECRET not in caught.value.public_message
    assert SECRET in caught.value.detail


async def test_rate_limit_429_carries_the_requested_wait(http: aiohttp.ClientSession) -> None:
    with azure(api_key=KEY) as server:
        server.queue(rate_limited_reply(6))
        with pytest.raises(ProviderError) as caught:
            await collect(provider(http, server), request())
    assert caught.value.public_message == errors.MSG_RATE_LIMIT
    assert (caught.value.status, caught.value.retry_after) == (429, 6.0)
    assert "retry after" not in caught.value.public_message.lower()


async def test_retry_after_in_seconds_is_read_without_the_ms_header(
    http: aiohttp.ClientSession,
) -> None:
    with azure(api_key=KEY) as server:
        server.queue(azure_error(429, "429", SECRET, headers={"retry-after": "17"}))
        with pytest.raises(ProviderError) as caught:
            await collect(provider(http, server), request())
    assert caught.value.retry_after == 17.0


async def test_unknown_deployment_is_a_not_found_model(http: aiohttp.ClientSession) -> None:
    with azure(api_key=KEY) as server, pytest.raises(ProviderError) as caught:
        await collect(provider(http, server), request("no-such-deployment"))
    assert caught.value.public_message == errors.MSG_NOT_FOUND
    assert caught.value.status == 404
    assert "DeploymentNotFound" in caught.value.detail
    assert [status for _, status in server.rejected] == [404]


async def test_wrong_key_is_a_credentials_error(http: aiohttp.ClientSession) -> None:
    with azure(api_key=KEY) as server, pytest.raises(ProviderError) as caught:
        await collect(provider(http, server, api_key="wrong"), request())
    assert caught.value.public_message == errors.MSG_CREDENTIALS
    assert "Access denied" not in caught.value.public_message


async def test_content_filter_error_inside_the_stream_has_its_own_message(
    http: aiohttp.ClientSession,
) -> None:
    error = {"error": {"code": "content_filter", "message": SECRET, "status": 400}}
    with azure(api_key=KEY) as server:
        server.queue(stream_reply([prompt_filter_chunk(), azure_chunk({"content": "a"}), error]))
        received, caught = await collect_until_error(provider(http, server), request())
    assert text_of(received) == "a"
    assert caught.public_message == errors.MSG_CONTENT_FILTER
    assert SECRET not in caught.public_message


async def test_rate_limit_error_inside_the_stream_reads_its_string_code(
    http: aiohttp.ClientSession,
) -> None:
    error = {"error": {"code": "429", "message": SECRET}}
    with azure(api_key=KEY) as server:
        server.queue(stream_reply([prompt_filter_chunk(), error], done=False))
        _, caught = await collect_until_error(provider(http, server), request())
    assert (caught.public_message, caught.status) == (errors.MSG_RATE_LIMIT, 429)


# --- settings and registry -------------------------------------------------------------------


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**NO_PROVIDERS, "environment": "test", **values})


@pytest.mark.parametrize(
    "values",
    [
        {"azure_openai_endpoint": "https://res.openai.azure.com"},
        {"azure_openai_endpoint": "https://res.openai.azure.com",
         "azure_openai_api_key": KEY, "azure_openai_ad_token": TOKEN},
        {"azure_openai_api_key": KEY},
        {"azure_openai_endpoint": "res.openai.azure.com", "azure_openai_api_key": KEY},
    ],
    ids=["no-credential", "both-credentials", "key-without-endpoint", "endpoint-not-a-url"],
)  # fmt: skip
def test_misconfigured_azure_is_one_line_naming_the_setting(values: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(**values)
    message = str(caught.value)
    assert "\n" not in message
    assert "AZURE_OPENAI_" in message


async def test_models_file_entry_routes_to_the_azure_deployment(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    models = tmp_path / "models.json"
    entry = {"id": "azure/gpt-4o", "backend": "azure", "upstream_model": DEPLOYMENT}
    models.write_bytes(orjson.dumps({"models": [entry]}))
    with azure(api_key=KEY) as server:
        settings = _settings(
            azure_openai_endpoint=server.endpoint, azure_openai_api_key=KEY,
            chat_models_file=models, default_chat_model="azure/gpt-4o",
        )  # fmt: skip
        registry = build_registry(settings, http)
        resolved = registry.resolve("azure/gpt-4o")
        assert (resolved.backend, resolved.upstream_model) == ("azure", DEPLOYMENT)
        events = await collect(resolved.provider, request(resolved.upstream_model))
    assert text_of(events) == "Hello from Azure."
    assert server.requests[0].path.startswith(f"/openai/deployments/{DEPLOYMENT}/")
