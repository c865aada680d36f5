"""The model catalogue before any network: ai-chatbot's model ids, the demo's, the models
file's and the configured providers and servers, checked (before migrations run) so that
every mistake is one line."""

from __future__ import annotations

import os
from dataclasses import dataclass

from chatbot_api.ai.demo import (
    ARTIFACT_MODEL_ID,
    CHAT_MODEL_ID,
    REASONING_MODEL_ID,
    TITLE_MODEL_ID,
)
from chatbot_api.ai.models_file import BUILTIN_PROVIDERS, ModelsFile, Price, ProviderEntry, load
from chatbot_api.ai.prompts import is_reasoning_model
from chatbot_api.core.config import ConfigError, Settings


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model as pickers show it. `provider` is the UI group (anthropic, openai, reasoning…)."""

    id: str
    name: str
    description: str
    provider: str
    reasoning: bool


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    info: ModelInfo
    provider: str | None = None  # None: routed (the Gateway, the vendor, the catch-all)
    upstream: str | None = None  # the id on its provider (None: derived from the id)
    vendor_upstream: str | None = None  # the id on the vendor's own API
    tools: bool = True
    user_types: frozenset[str] | None = None
    max_output_tokens: int | None = None
    fallbacks: tuple[str, ...] = ()
    price: Price | None = None
    hidden: bool = False


def _default(
    model_id: str, name: str, group: str, description: str, vendor_id: str | None = None
) -> CatalogEntry:
    info = ModelInfo(model_id, name, description, group, is_reasoning_model(model_id))
    return CatalogEntry(info, vendor_upstream=vendor_id)


DEFAULT_MODELS: tuple[CatalogEntry, ...] = (
    _default("anthropic/claude-haiku-4.5", "Claude Haiku 4.5", "anthropic",
             "Fast and affordable, great for everyday tasks", "claude-haiku-4-5"),
    _default("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", "anthropic",
             "Best balance of speed, intelligence, and cost", "claude-sonnet-4-5"),
    _default("anthropic/claude-opus-4.5", "Claude Opus 4.5", "anthropic",
             "Most capable Anthropic model", "claude-opus-4-5"),
    _default("openai/gpt-4.1-mini", "GPT-4.1 Mini", "openai",
             "Fast and cost-effective for simple tasks", "gpt-4.1-mini"),
    _default("openai/gpt-5.2", "GPT-5.2", "openai", "Most capable OpenAI model", "gpt-5.2"),
    _default("google/gemini-2.5-flash-lite", "Gemini 2.5 Flash Lite", "google",
             "Ultra fast and affordable", "gemini-2.5-flash-lite"),
    _default("google/gemini-3-pro-preview", "Gemini 3 Pro", "google",
             "Most capable Google model", "gemini-3-pro-preview"),
    _default("xai/grok-4.1-fast-non-reasoning", "Grok 4.1 Fast", "xai",
             "Fast with 30K context", "grok-4-1-fast-non-reasoning"),
    _default("anthropic/claude-3.7-sonnet-thinking", "Claude 3.7 Sonnet", "reasoning",
             "Extended thinking for complex problems", "claude-3-7-sonnet-latest"),
    _default("xai/grok-code-fast-1-thinking", "Grok Code Fast", "reasoning",
             "Reasoning optimized for code", "grok-code-fast-1"),
)  # fmt: skip

_DEMO_DESCRIPTION = "Offline demo model: scripted replies, every feature works without an API key"
# The demo's ids: answered by the demo model when no provider is configured, else routed to
# the catch-all model like any id without a provider of its own (older ai-chatbot sends them).
DEMO_MODELS: tuple[CatalogEntry, ...] = tuple(
    CatalogEntry(ModelInfo(model_id, name, description, "demo", reasoning), hidden=hidden)
    for model_id, name, description, reasoning, hidden in (
        (CHAT_MODEL_ID, "Demo", _DEMO_DESCRIPTION, False, False),
        (REASONING_MODEL_ID, "Demo Reasoning", _DEMO_DESCRIPTION, True, False),
        (TITLE_MODEL_ID, "Demo Titles", "Offline demo titles", False, True),
        (ARTIFACT_MODEL_ID, "Demo Documents", "Offline demo documents", False, True),
    )
)
DEMO_IDS = frozenset(entry.info.id for entry in DEMO_MODELS)


def secret_text(value: object) -> str | None:
    secret = getattr(value, "get_secret_value", None)
    text = secret() if secret is not None else value
    return text if isinstance(text, str) and text else None


def strip_thinking(model_id: str) -> str:
    return model_id.removesuffix("-thinking")


@dataclass(frozen=True, slots=True)
class Server:
    """An OpenAI-compatible server whose models are offered by their own ids."""

    name: str
    base_url: str
    api_key: str | None
    models: tuple[str, ...]  # offered at once; with discovery, only these of its list
    discover: bool
    id_prefix: str = ""


@dataclass(frozen=True, slots=True)
class ModelsConfig:
    """The registry's inputs: the configured providers, the entries, the servers, the
    providers' timeouts and the catch-all model."""

    providers: tuple[str, ...]  # configured, built in and the file's servers; "demo" last
    entries: tuple[CatalogEntry, ...]
    servers: tuple[Server, ...]
    timeouts: dict[str, ProviderEntry]
    catch_all: str | None
    file: ModelsFile | None

    @property
    def demo_only(self) -> bool:
        return self.providers == ("demo",)


def _builtin_configured(settings: Settings) -> list[str]:
    names = []
    if secret_text(settings.ai_gateway_api_key):
        names.append("gateway")
    if secret_text(settings.openai_api_key):
        names.append("openai")
    if secret_text(settings.anthropic_api_key):
        names.append("anthropic")
    if secret_text(settings.xai_api_key):
        names.append("xai")
    if secret_text(settings.google_api_key):
        names.append("google")
    if settings.azure_openai_endpoint:
        names.append("azure")
    if settings.bedrock_region:
        names.append("bedrock")
    if settings.openai_compatible_base_url:
        names.append("openai-compatible")
    return names


def _file_entries(file: ModelsFile) -> list[CatalogEntry]:
    entries = []
    for item in file.models:
        group = item.group or (item.id.split("/", 1)[0] if "/" in item.id else "custom")
        reasoning = is_reasoning_model(item.id) if item.reasoning is None else item.reasoning
        info = ModelInfo(item.id, item.name or item.id, item.description, group, reasoning)
        entries.append(
            CatalogEntry(
                info,
                provider=item.provider,
                upstream=item.model,
                tools=item.tools,
                user_types=frozenset(item.user_types) if item.user_types is not None else None,
                max_output_tokens=item.max_output_tokens,
                fallbacks=tuple(item.fallbacks),
                price=item.price,
                hidden=item.hidden,
            )
        )
    return entries


def models_config(settings: Settings) -> ModelsConfig:
    """The settings and the models file, checked: ConfigError (one line) for any mistake."""
    file = load(settings.chat_models_file) if settings.chat_models_file is not None else None
    providers = _builtin_configured(settings)
    servers: list[Server] = []
    if settings.openai_compatible_base_url:
        servers.append(
            Server(
                "openai-compatible",
                settings.openai_compatible_base_url,
                secret_text(settings.openai_compatible_api_key),
                tuple(settings.openai_compatible_models),
                settings.openai_compatible_discovery,
            )
        )
    timeouts: dict[str, ProviderEntry] = {}
    for name, server_entry in (file.providers if file else {}).items():
        if name in BUILTIN_PROVIDERS:
            timeouts[name] = server_entry
            continue
        key = None
        if server_entry.api_key_env:
            key = os.environ.get(server_entry.api_key_env) or None
            if key is None:
                raise ConfigError(
                    f"CHAT_MODELS_FILE {settings.chat_models_file}: providers.{name}.api_key_env: "
                    f"{server_entry.api_key_env} is not set"
                )
        assert server_entry.base_url is not None  # the file's validator checked it
        servers.append(
            Server(
                name,
                server_entry.base_url,
                key,
                tuple(server_entry.models or ()),
                server_entry.discover,
                server_entry.id_prefix,
            )
        )
        providers.append(name)
        timeouts[name] = server_entry
    entries: dict[str, CatalogEntry] = {entry.info.id: entry for entry in DEFAULT_MODELS}
    if file is not None:
        if file.replace_defaults:
            entries = {}
        entries.update({entry.info.id: entry for entry in _file_entries(file)})
    for entry in DEMO_MODELS:
        entries.setdefault(entry.info.id, entry)
    config = ModelsConfig(
        providers=(*providers, "demo"),
        entries=tuple(entries.values()),
        servers=tuple(servers),
        timeouts=timeouts,
        catch_all=settings.catch_all_model or (file.catch_all_model if file else None),
        file=file,
    )
    _check(config, settings)
    return config


def _check(config: ModelsConfig, settings: Settings) -> None:
    where = f"CHAT_MODELS_FILE {settings.chat_models_file}"
    ids = {entry.info.id for entry in config.entries}
    may_discover = any(server.discover for server in config.servers)
    listed = {server.id_prefix + m for server in config.servers for m in server.models}
    known = ids | listed
    for entry in config.entries:
        if entry.provider is not None and entry.provider not in config.providers:
            raise ConfigError(
                f"{where}: model {entry.info.id!r}: provider {entry.provider!r} is not "
                f"configured (configured: {', '.join(config.providers)})"
            )
        for fallback in entry.fallbacks:
            if fallback not in known and not may_discover:
                raise ConfigError(
                    f"{where}: model {entry.info.id!r}: fallbacks: unknown model id {fallback!r}"
                )
    for name, value in (
        ("DEFAULT_CHAT_MODEL", settings.default_chat_model),
        ("CATCH_ALL_MODEL", config.catch_all),
    ):
        if value is None or value in known or may_discover or provider_form(value, config):
            continue
        shown = ", ".join(sorted(i for i in known if i not in DEMO_IDS)[:20])
        raise ConfigError(f"{name} {value!r} is not a known model id (known: {shown})")


def provider_form(value: str, config: ModelsConfig) -> tuple[str, str] | None:
    """`provider:model` (e.g. `azure:my-deployment`), when the prefix is a configured provider."""
    name, sep, model = value.partition(":")
    if sep and model and name in config.providers:
        return name, model
    return None
