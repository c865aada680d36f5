"""The model registry: defaults, routing by configuration, the catch-all model, the models
file (and its mistakes), servers' model lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from chatbot_api.ai import models_file
from chatbot_api.ai.demo import DemoProvider
from chatbot_api.ai.providers.anthropic import AnthropicProvider
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.ai.registry import ModelRegistry, build_registry
from chatbot_api.core.config import ConfigError, Settings
from chatbot_api.core.errors import AppError
from tests.fakes.http import RecordedRequest, Reply, json_reply
from tests.fakes.openai_server import FakeOpenAIServer, stream_reply, text_stream

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
    "google_api_key": None,
    "openai_compatible_base_url": None,
    "catch_all_model": None,
    "azure_openai_endpoint": None,
    "azure_openai_api_key": None,
    "azure_openai_ad_token": None,
    "bedrock_region": None,
}
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "models.schema.json"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def registry(http: aiohttp.ClientSession, **overrides: Any) -> ModelRegistry:
    values = {**NO_PROVIDERS, "environment": "test", **overrides}
    return build_registry(Settings(_env_file=None, **values), http)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


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
    # The demo's ids (older ai-chatbot sends them) go to the catch-all model, not the demo.
    demo_id = models.resolve("chat-model")
    assert (demo_id.backend, demo_id.upstream_model) == ("gateway", "openai/gpt-4.1-mini")
    assert [info.id for info in models.models] == FRONTEND_IDS  # demo ids hidden
    assert models.title_model().upstream_model == "google/gemini-2.5-flash-lite"
    assert models.artifact_model().upstream_model == "anthropic/claude-haiku-4.5"


def test_only_an_openai_key_answers_every_id_by_openai(http: aiohttp.ClientSession) -> None:
    models = registry(http, openai_api_key="sk-openai")
    assert models.catch_all_id == "openai/gpt-4.1-mini"
    for model_id in [*FRONTEND_IDS, "chat-model", "chat-model-reasoning", "title-model"]:
        resolved = models.resolve(model_id)
        assert resolved.backend == "openai", model_id
        assert not resolved.is_demo
    assert models.resolve("openai/gpt-5.2").upstream_model == "gpt-5.2"
    for model_id in ("google/gemini-2.5-flash-lite", "anthropic/claude-opus-4.5"):
        assert models.resolve(model_id).upstream_model == "gpt-4.1-mini"
    assert models.resolve("anthropic/claude-opus-4.5").info.name == "Claude Opus 4.5"
    assert (models.title_model().backend, models.title_model().upstream_model) == (
        "openai",
        "gpt-4.1-mini",
    )


def test_vendor_keys_route_their_ids_and_the_rest_to_the_catch_all(
    http: aiohttp.ClientSession,
) -> None:
    models = registry(http, anthropic_api_key="sk-ant", xai_api_key="xai-key")
    haiku = models.resolve("anthropic/claude-haiku-4.5")
    assert isinstance(haiku.provider, AnthropicProvider)
    assert haiku.upstream_model == "claude-haiku-4-5"
    grok = models.resolve("xai/grok-code-fast-1-thinking")
    assert (grok.backend, grok.upstream_model, grok.reasoning) == ("xai", "grok-code-fast-1", True)
    assert models.catch_all_id == "anthropic/claude-haiku-4.5"
    gpt = models.resolve("openai/gpt-5.2")
    assert (gpt.backend, gpt.upstream_model) == ("anthropic", "claude-haiku-4-5")
    assert not any(models.resolve(info.id).is_demo for info in models.models)
    assert models.artifact_model().backend == "anthropic"


@pytest.mark.parametrize(
    ("catch_all", "backend", "upstream"),
    [
        ("openai/gpt-5.2", "openai", "gpt-5.2"),
        ("openai:gpt-4o", "openai", "gpt-4o"),
    ],
)
def test_catch_all_model_is_configurable(
    http: aiohttp.ClientSession, catch_all: str, backend: str, upstream: str
) -> None:
    models = registry(http, openai_api_key="sk-openai", catch_all_model=catch_all)
    resolved = models.resolve("google/gemini-3-pro-preview")
    assert (resolved.backend, resolved.upstream_model) == (backend, upstream)
    assert "openai:gpt-4o" not in [info.id for info in models.models]


def test_empty_key_counts_as_unset(http: aiohttp.ClientSession) -> None:
    assert registry(http, ai_gateway_api_key="").demo_only


MODELS_YAML = """
providers:
  ollama:
    type: openai-compatible
    base_url: http://127.0.0.1:11434/v1
    discover: false
    models: [llama3.2]
    id_prefix: "ollama/"
  openai:
    read_timeout_seconds: 5
models:
  - id: openai/gpt-5.2
    name: GPT-5.2 (ours)
    model: gpt-5.2-pro
    user_types: [regular]
    max_output_tokens: 2000
    fallbacks: [ollama/llama3.2]
    price: {input: 1.25, output: 10, cached_input: 0.125}
  - id: qwen-reasoning
    provider: ollama
    model: qwen3
    tools: false
  - id: house-model
    group: house
    provider: openai
    model: gpt-4o
    hidden: true
"""


def test_models_file_adds_servers_models_and_their_options(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = write(tmp_path, "models.yaml", MODELS_YAML)
    models = registry(http, chat_models_file=path, openai_api_key="sk-openai")
    gpt = models.resolve("openai/gpt-5.2")
    assert (gpt.info.name, gpt.backend, gpt.upstream_model) == (
        "GPT-5.2 (ours)",
        "openai",
        "gpt-5.2-pro",
    )
    assert [(t.provider_name, t.upstream_model) for t in gpt.targets[1:]] == [
        ("ollama", "llama3.2")
    ]
    assert gpt.user_types == frozenset({"regular"})
    assert (gpt.may_use("regular"), gpt.may_use("guest")) == (True, False)
    assert gpt.max_output_tokens == 2000
    assert gpt.price is not None
    assert gpt.price.cached_input == 0.125
    llama = models.resolve("ollama/llama3.2")
    assert (llama.backend, llama.upstream_model, llama.info.provider) == (
        "ollama",
        "llama3.2",
        "ollama",
    )
    qwen = models.resolve("qwen-reasoning")
    assert (qwen.reasoning, qwen.tools, qwen.backend) == (True, False, "ollama")
    listed = [info.id for info in models.models]
    assert "house-model" not in listed
    assert models.resolve("house-model").backend == "openai"
    assert "google/gemini-2.5-flash-lite" in listed


def test_models_file_can_replace_the_defaults(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(
        orjson.dumps({"replaceDefaults": True, "models": [{"id": "mistral", "provider": "demo"}]})
    )
    models = registry(http, chat_models_file=path, default_chat_model="mistral")
    assert [info.id for info in models.models] == ["mistral", "chat-model", "chat-model-reasoning"]


def test_legacy_spelling_of_provider_and_upstream_model_is_read(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(
        orjson.dumps(
            {"models": [{"id": "m", "backend": "openai-compatible", "upstreamModel": "up"}]}
        )
    )
    models = registry(
        http,
        chat_models_file=path,
        openai_compatible_base_url="http://127.0.0.1:9/v1",
        openai_compatible_discovery=False,
    )
    resolved = models.resolve("m")
    assert (resolved.backend, resolved.upstream_model) == ("openai-compatible", "up")


MISTAKES = [
    # (file name, text, extra settings, what the one line must name)
    ("m.json", '{"models": [{"id": "a",}]}', {}, ["m.json", "line 1", "invalid JSON"]),
    ("m.yaml", "models:\n  - id: a\n   name: b\n", {}, ["m.yaml", "line 3", "invalid YAML"]),
    (
        "m.yaml",
        "models:\n  - id: a\n    tols: false\n",
        {},
        ["models[0] (a).tols", "unknown field"],
    ),
    (
        "m.yaml",
        "models:\n  - id: a\n    provider: nosuch\n",
        {},
        ["models[0] (a).provider", "unknown provider 'nosuch'"],
    ),
    (
        "m.yaml",
        "models:\n  - id: a\n    provider: azure\n    model: x\n",
        {},
        ["model 'a'", "provider 'azure' is not configured"],
    ),
    (
        "m.yaml",
        "models:\n  - id: a\n    fallbacks: [zzz]\n",
        {},
        ["model 'a'", "fallbacks", "'zzz'"],
    ),
    ("m.yaml", "models:\n  - id: a\n  - id: a\n", {}, ["models[1] (a).id", "listed twice"]),
    (
        "m.yaml",
        "models:\n  - id: a\n    max_output_tokens: 0\n",
        {},
        ["models[0] (a).max_output_tokens", "greater than or equal to 1"],
    ),
    (
        "m.yaml",
        "providers:\n  lm:\n    type: openai-compatible\n    base_url: http://x/v1\n"
        "    api_key_env: CHATBOT_TEST_UNSET_KEY\n",
        {},
        ["providers.lm.api_key_env", "CHATBOT_TEST_UNSET_KEY is not set"],
    ),
    ("m.yaml", "- id: a\n", {"default_chat_model": "gpt-typo"}, ["DEFAULT_CHAT_MODEL", "gpt-typo"]),
]


@pytest.mark.parametrize(("name", "text", "extra", "named"), MISTAKES)
def test_every_models_file_mistake_is_one_line_naming_it(
    http: aiohttp.ClientSession,
    tmp_path: Path,
    name: str,
    text: str,
    extra: dict[str, Any],
    named: list[str],
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        registry(http, chat_models_file=path, **extra)
    message = str(caught.value)
    assert "\n" not in message
    for part in named:
        assert part in message, message


def test_a_missing_models_file_is_one_line(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^CHAT_MODELS_FILE .*nope.yaml: cannot read it"):
        registry(http, chat_models_file=tmp_path / "nope.yaml")


def test_unknown_default_model_fails_at_startup(http: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError, match="DEFAULT_CHAT_MODEL 'nope' is not a known model id"):
        registry(http, default_chat_model="nope")


def test_the_committed_json_schema_is_the_files_schema() -> None:
    assert SCHEMA_FILE.read_text() == models_file.json_schema()


# --- OpenAI-compatible servers by URL alone ---------------------------------------------------


def _models_list(ids: list[str]) -> Reply:
    return json_reply(200, {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


class ModelsServer:
    """A fake OpenAI-compatible server whose /v1/models lists `ids` (changeable)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.server = FakeOpenAIServer(self.reply)

    def reply(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/v1/models":
            return _models_list(self.ids)
        return stream_reply(text_stream(["Hi"]))


@pytest.fixture
def models_server() -> Iterator[ModelsServer]:
    fake = ModelsServer(["llama3.2:latest", "qwen3:8b"])
    with fake.server:
        yield fake


async def test_a_servers_models_are_discovered_and_answer_every_id(
    http: aiohttp.ClientSession, models_server: ModelsServer
) -> None:
    models = registry(http, openai_compatible_base_url=models_server.server.base_url)
    with pytest.raises(AppError) as caught:  # before its list is read, nothing answers
        models.resolve("google/gemini-2.5-flash-lite")
    assert caught.value.status == 503
    await models.refresh()
    listed = [info.id for info in models.models]
    assert listed[-2:] == ["llama3.2:latest", "qwen3:8b"]
    assert models.catch_all_id == "llama3.2:latest"
    for model_id in ("google/gemini-2.5-flash-lite", "qwen3:8b", "chat-model"):
        resolved = models.resolve(model_id)
        assert resolved.backend == "openai-compatible"
        assert not resolved.is_demo
    assert models.resolve("qwen3:8b").upstream_model == "qwen3:8b"
    models_server.ids = ["mistral:7b"]
    await models.refresh()
    assert [info.id for info in models.models][-1] == "mistral:7b"
    assert "qwen3:8b" not in models.ids
    assert models.resolve("google/gemini-2.5-flash-lite").upstream_model == "mistral:7b"


async def test_openai_compatible_models_restricts_and_answers_before_discovery(
    http: aiohttp.ClientSession, models_server: ModelsServer
) -> None:
    models = registry(
        http,
        openai_compatible_base_url=models_server.server.base_url,
        openai_compatible_models="qwen3:8b",
    )
    assert models.resolve("google/gemini-2.5-flash-lite").upstream_model == "qwen3:8b"
    await models.refresh()
    assert [i for i in models.ids if ":" in i] == ["qwen3:8b"]


async def test_an_unreachable_server_leaves_the_registry_as_it_was(
    http: aiohttp.ClientSession,
) -> None:
    models = registry(http, openai_compatible_base_url="http://127.0.0.1:9/v1")
    await models.refresh()
    assert not [i for i in models.ids if i not in FRONTEND_IDS and "model" not in i]
    with pytest.raises(AppError) as caught:
        models.resolve("openai/gpt-5.2")
    assert caught.value.status == 503
    assert caught.value.cause is not None
    assert "CATCH_ALL_MODEL" in caught.value.cause
