"""The model registry: defaults, routing by configuration, the models file, unknown ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from chatbot_api.ai.demo import DemoProvider
from chatbot_api.ai.providers.anthropic import AnthropicProvider
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.ai.registry import ModelRegistry, build_registry
from chatbot_api.core.config import ConfigError, Settings
from chatbot_api.core.errors import AppError

FRONTEND_IDS = [
    "anthropic/claude-haiku-4.5",
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-opus-4.5",
    "openai/gpt-4.1-mini",
    "openai/gpt-5.2",
    "google/gemini-2.5-flash-lite",
    "google/gemini-3-pro-preview",
    "xai/grok-4.1-fast-non-reasoning",
    "anthropic/claude-3.7-sonnet-thinking",
    "xai/grok-code-fast-1-thinking",
]
NO_PROVIDERS: dict[str, Any] = {
    "ai_gateway_api_key": None,
    "openai_api_key": None,
    "xai_api_key": None,
    "anthropic_api_key": None,
    "openai_compatible_base_url": None,
    "azure_openai_endpoint": None,
    "azure_openai_api_key": None,
    "azure_openai_ad_token": None,
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def registry(http: aiohttp.ClientSession, **overrides: Any) -> ModelRegistry:
    values = {**NO_PROVIDERS, "environment": "test", **overrides}
    return build_registry(Settings(_env_file=None, **values), http)


def test_default_registry_lists_the_frontend_ids_and_demo_ids(http: aiohttp.ClientSession) -> None:
    models = registry(http)
    listed = [info.id for info in models.models]
    assert listed == [*FRONTEND_IDS, "chat-model", "chat-model-reasoning"]
    assert models.default_chat_model == "google/gemini-2.5-flash-lite"
    for model_id in ("title-model", "artifact-model"):
        assert models.resolve(model_id).is_demo
    reasoning = {info.id for info in models.models if info.reasoning}
    assert reasoning == {
        "anthropic/claude-3.7-sonnet-thinking",
        "xai/grok-code-fast-1-thinking",
        "chat-model-reasoning",
    }


def test_without_providers_every_id_is_answered_by_the_demo(http: aiohttp.ClientSession) -> None:
    models = registry(http)
    assert models.demo_only
    for info in models.models:
        resolved = models.resolve(info.id)
        assert resolved.is_demo
        assert isinstance(resolved.provider, DemoProvider)
    assert models.title_model().upstream_model == "title-model"
    assert models.artifact_model().upstream_model == "artifact-model"


def test_unknown_id_is_a_400_listing_allowed_ids(http: aiohttp.ClientSession) -> None:
    with pytest.raises(AppError) as caught:
        registry(http).resolve("openai/gpt-9-ultra")
    error = caught.value
    assert error.status == 400
    assert error.code == "bad_request:api"
    assert error.cause is not None
    assert error.cause.startswith("Unknown model 'openai/gpt-9-ultra'. Allowed: ")
    assert "google/gemini-2.5-flash-lite" in error.cause


def test_gateway_key_routes_every_frontend_id_to_the_gateway(http: aiohttp.ClientSession) -> None:
    models = registry(http, ai_gateway_api_key="gw-key", anthropic_api_key="sk-ant")
    assert not models.demo_only
    for model_id in FRONTEND_IDS:
        resolved = models.resolve(model_id)
        assert resolved.backend == "gateway"
        assert isinstance(resolved.provider, OpenAICompatProvider)
        assert not resolved.is_demo
    thinking = models.resolve("anthropic/claude-3.7-sonnet-thinking")
    assert (thinking.upstream_model, thinking.reasoning) == ("anthropic/claude-3.7-sonnet", True)
    plain = models.resolve("google/gemini-2.5-flash-lite")
    assert (plain.upstream_model, plain.reasoning) == ("google/gemini-2.5-flash-lite", False)
    assert models.resolve("chat-model").is_demo
    assert [info.id for info in models.models] == FRONTEND_IDS  # demo ids hidden
    assert models.title_model().upstream_model == "google/gemini-2.5-flash-lite"
    assert models.artifact_model().upstream_model == "anthropic/claude-haiku-4.5"


def test_vendor_keys_route_their_ids_and_leave_the_rest_to_the_demo(
    http: aiohttp.ClientSession,
) -> None:
    models = registry(http, anthropic_api_key="sk-ant", xai_api_key="xai-key")
    haiku = models.resolve("anthropic/claude-haiku-4.5")
    assert isinstance(haiku.provider, AnthropicProvider)
    assert haiku.upstream_model == "claude-haiku-4-5"
    grok = models.resolve("xai/grok-code-fast-1-thinking")
    assert (grok.backend, grok.upstream_model, grok.reasoning) == ("xai", "grok-code-fast-1", True)
    assert models.resolve("openai/gpt-5.2").is_demo
    assert models.resolve("google/gemini-2.5-flash-lite").is_demo
    assert models.title_model().is_demo  # gemini has no configured backend
    assert models.artifact_model().backend == "anthropic"


def test_empty_key_counts_as_unset(http: aiohttp.ClientSession) -> None:
    assert registry(http, ai_gateway_api_key="").demo_only


def test_models_file_adds_and_replaces_models(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(
        orjson.dumps(
            [
                {"id": "llama3.2", "name": "Llama 3.2", "backend": "openai-compatible"},
                {"id": "openai/gpt-5.2", "name": "GPT-5.2 (ours)", "upstreamModel": "gpt-5.2-pro"},
                {"id": "qwen-reasoning", "backend": "openai-compatible", "provider": "local"},
            ]
        )
    )
    models = registry(
        http,
        chat_models_file=path,
        openai_compatible_base_url="http://127.0.0.1:11434/v1",
        openai_api_key="sk-openai",
    )
    llama = models.resolve("llama3.2")
    assert (llama.backend, llama.upstream_model, llama.info.provider) == (
        "openai-compatible",
        "llama3.2",
        "custom",
    )
    gpt = models.resolve("openai/gpt-5.2")
    assert (gpt.info.name, gpt.backend, gpt.upstream_model) == (
        "GPT-5.2 (ours)",
        "openai",
        "gpt-5.2-pro",
    )
    assert models.resolve("qwen-reasoning").reasoning
    assert "google/gemini-2.5-flash-lite" in models.ids


def test_models_file_can_replace_the_defaults(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(
        orjson.dumps({"replaceDefaults": True, "models": [{"id": "mistral", "backend": "demo"}]})
    )
    models = registry(http, chat_models_file=path, default_chat_model="mistral")
    assert [info.id for info in models.models] == ["mistral", "chat-model", "chat-model-reasoning"]


def test_invalid_models_file_fails_at_startup(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('[{"name": "no id"}]')
    with pytest.raises(ConfigError, match="CHAT_MODELS_FILE"):
        registry(http, chat_models_file=path)


def test_unknown_default_model_fails_at_startup(http: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="DEFAULT_CHAT_MODEL"):
        registry(http, default_chat_model="nope")
