"""The model registry: which model ids exist, and which provider answers each (from settings)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import aiohttp
import structlog
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chatbot_api.ai.base import Provider
from chatbot_api.ai.demo import (
    ARTIFACT_MODEL_ID,
    CHAT_MODEL_ID,
    REASONING_MODEL_ID,
    TITLE_MODEL_ID,
    DemoProvider,
)
from chatbot_api.ai.prompts import is_reasoning_model
from chatbot_api.ai.providers.anthropic import AnthropicProvider
from chatbot_api.ai.providers.bedrock import BedrockProvider, load_signer
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.core.config import ConfigError, Settings
from chatbot_api.core.errors import AppError

log = structlog.get_logger("chatbot_api.ai")

Backend = Literal["gateway", "openai", "xai", "anthropic", "openai-compatible", "bedrock", "demo"]
VENDOR_BACKENDS: dict[str, Backend] = {"openai": "openai", "xai": "xai", "anthropic": "anthropic"}
MAX_ID_IN_ERROR = 100


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model as pickers show it. `provider` is the UI group (anthropic, openai, reasoning…)."""

    id: str
    name: str
    description: str
    provider: str
    reasoning: bool


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model ready to call: send `upstream_model` as ModelRequest.model to `provider`, and
    set ModelRequest.reasoning from `reasoning`."""

    info: ModelInfo
    provider: Provider
    upstream_model: str
    is_demo: bool
    backend: Backend

    @property
    def reasoning(self) -> bool:
        return self.info.reasoning


@dataclass(frozen=True, slots=True)
class _Entry:
    info: ModelInfo
    backend: Backend | None = None  # None: route automatically
    upstream: str | None = None  # the id on its backend (None: derived from the id)
    vendor_upstream: str | None = None  # the id on the vendor's own API, for defaults


def _default(
    model_id: str, name: str, group: str, description: str, vendor_id: str | None = None
) -> _Entry:
    info = ModelInfo(model_id, name, description, group, is_reasoning_model(model_id))
    return _Entry(info, vendor_upstream=vendor_id)


DEFAULT_MODELS: tuple[_Entry, ...] = (
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
             "Ultra fast and affordable"),
    _default("google/gemini-3-pro-preview", "Gemini 3 Pro", "google",
             "Most capable Google model"),
    _default("xai/grok-4.1-fast-non-reasoning", "Grok 4.1 Fast", "xai",
             "Fast with 30K context", "grok-4-1-fast-non-reasoning"),
    _default("anthropic/claude-3.7-sonnet-thinking", "Claude 3.7 Sonnet", "reasoning",
             "Extended thinking for complex problems", "claude-3-7-sonnet-latest"),
    _default("xai/grok-code-fast-1-thinking", "Grok Code Fast", "reasoning",
             "Reasoning optimized for code", "grok-code-fast-1"),
)  # fmt: skip

_DEMO_DESCRIPTION = "Offline demo model: scripted replies, every feature works without an API key"
DEMO_MODELS: tuple[_Entry, ...] = tuple(
    _Entry(ModelInfo(model_id, name, description, "demo", reasoning), "demo")
    for model_id, name, description, reasoning in (
        (CHAT_MODEL_ID, "Demo", _DEMO_DESCRIPTION, False),
        (REASONING_MODEL_ID, "Demo Reasoning", _DEMO_DESCRIPTION, True),
        (TITLE_MODEL_ID, "Demo Titles", "Offline demo titles", False),
        (ARTIFACT_MODEL_ID, "Demo Documents", "Offline demo documents", False),
    )
)
_PICKER_HIDDEN = frozenset({TITLE_MODEL_ID, ARTIFACT_MODEL_ID})


class ModelFileEntry(BaseModel):
    """One model in CHAT_MODELS_FILE."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    name: str | None = None
    description: str = ""
    provider: str | None = None  # UI group; default: the id's prefix before "/"
    reasoning: bool | None = None  # default: from the id
    backend: Backend | None = None
    upstream_model: str | None = Field(
        default=None, validation_alias=AliasChoices("upstreamModel", "upstream_model", "upstream")
    )


class ModelFile(BaseModel):
    models: list[ModelFileEntry]
    replace_defaults: bool = Field(
        default=False, validation_alias=AliasChoices("replaceDefaults", "replace_defaults")
    )


_FILE_ADAPTER: TypeAdapter[ModelFile | list[ModelFileEntry]] = TypeAdapter(
    ModelFile | list[ModelFileEntry]
)


def load_model_file(path: Path) -> tuple[list[_Entry], bool]:
    """The file's models and whether they replace the defaults (a bare list merges)."""
    try:
        parsed = _FILE_ADAPTER.validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise ConfigError(f"CHAT_MODELS_FILE {path}: {exc}") from exc
    file = parsed if isinstance(parsed, ModelFile) else ModelFile(models=parsed)
    entries = []
    for item in file.models:
        group = item.provider or (item.id.split("/", 1)[0] if "/" in item.id else "custom")
        reasoning = is_reasoning_model(item.id) if item.reasoning is None else item.reasoning
        info = ModelInfo(item.id, item.name or item.id, item.description, group, reasoning)
        entries.append(_Entry(info, item.backend, item.upstream_model))
    return entries, file.replace_defaults


def _key(value: object) -> str | None:
    secret = getattr(value, "get_secret_value", None)
    text = secret() if secret is not None else value
    return text if isinstance(text, str) and text else None


def _strip_thinking(model_id: str) -> str:
    return model_id.removesuffix("-thinking")


class ModelRegistry:
    """Resolves model ids to providers; lists the models pickers offer."""

    def __init__(
        self,
        settings: Settings,
        providers: dict[Backend, Provider],
        entries: list[_Entry],
        http: aiohttp.ClientSession,
    ) -> None:
        self._providers = providers
        self.http = http  # the providers' session, also for one made per turn (client config)
        self.demo_only = set(providers) == {"demo"}
        self._resolved: dict[str, ResolvedModel] = {}
        for entry in entries:
            self._resolved[entry.info.id] = self._route(entry)
        self.models: list[ModelInfo] = [
            resolved.info
            for resolved in self._resolved.values()
            if resolved.info.id not in _PICKER_HIDDEN
            and (self.demo_only or resolved.info.provider != "demo")
        ]
        self.default_chat_model = settings.default_chat_model
        if self.default_chat_model not in self._resolved:
            raise ConfigError(
                f"DEFAULT_CHAT_MODEL {self.default_chat_model!r} is not a known model id"
            )
        self._title = self._special(settings.title_model, TITLE_MODEL_ID)
        self._artifact = self._special(settings.artifact_model, ARTIFACT_MODEL_ID)

    def _route(self, entry: _Entry) -> ResolvedModel:
        model_id = entry.info.id
        backend = entry.backend
        upstream = entry.upstream
        if backend is None:
            vendor = VENDOR_BACKENDS.get(model_id.split("/", 1)[0]) if "/" in model_id else None
            if "gateway" in self._providers:
                backend = "gateway"
            elif vendor in self._providers:
                backend = vendor
                upstream = upstream or entry.vendor_upstream
            else:
                backend = "demo"
        if backend not in self._providers:
            log.warning("model backend not configured; the demo model answers", model=model_id)
            backend = "demo"
        if upstream is None:
            if backend in ("gateway", "openai", "xai", "anthropic"):
                upstream = _strip_thinking(model_id)
                if backend != "gateway":
                    upstream = upstream.split("/", 1)[-1]
            else:
                upstream = model_id
        return ResolvedModel(
            entry.info, self._providers[backend], upstream, backend == "demo", backend
        )

    def _special(self, model_id: str, demo_id: str) -> ResolvedModel:
        resolved = self._resolved.get(model_id)
        if resolved is None:  # a title/artifact model need not be offered in pickers
            info = ModelInfo(model_id, model_id, "", "custom", is_reasoning_model(model_id))
            resolved = self._route(_Entry(info))
        if resolved.is_demo:
            resolved = replace(resolved, upstream_model=demo_id)
        return resolved

    @property
    def ids(self) -> list[str]:
        return list(self._resolved)

    def resolve(self, model_id: str) -> ResolvedModel:
        """The model for `model_id`; an unknown id is a 400 listing the allowed ids."""
        resolved = self._resolved.get(model_id)
        if resolved is None:
            shown = model_id[:MAX_ID_IN_ERROR] + ("…" if len(model_id) > MAX_ID_IN_ERROR else "")
            allowed = ", ".join(info.id for info in self.models)
            raise AppError(f"Unknown model '{shown}'. Allowed: {allowed}", code="bad_request:api")
        return resolved

    def title_model(self) -> ResolvedModel:
        return self._title

    def artifact_model(self) -> ResolvedModel:
        return self._artifact

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()


def build_providers(settings: Settings, http: aiohttp.ClientSession) -> dict[Backend, Provider]:
    """One provider per configured backend, plus the demo model."""
    idle = settings.llm_idle_timeout_seconds
    connect = settings.llm_connect_timeout_seconds
    providers: dict[Backend, Provider] = {
        "demo": DemoProvider(settings.demo_model_word_delay_ms / 1000)
    }
    if key := _key(settings.ai_gateway_api_key):
        providers["gateway"] = OpenAICompatProvider(
            http, settings.ai_gateway_url, key, name="ai-gateway", reasoning_style="gateway",
            idle_timeout=idle, connect_timeout=connect,
        )  # fmt: skip
    if key := _key(settings.openai_api_key):
        providers["openai"] = OpenAICompatProvider(
            http, settings.openai_base_url, key, name="openai",
            max_tokens_field="max_completion_tokens", think_tags=False,
            idle_timeout=idle, connect_timeout=connect,
        )  # fmt: skip
    if key := _key(settings.xai_api_key):
        providers["xai"] = OpenAICompatProvider(
            http, settings.xai_base_url, key, name="xai",
            idle_timeout=idle, connect_timeout=connect,
        )  # fmt: skip
    if key := _key(settings.anthropic_api_key):
        providers["anthropic"] = AnthropicProvider(
            http, settings.anthropic_base_url, key, name="anthropic",
            idle_timeout=idle, connect_timeout=connect,
        )  # fmt: skip
    if settings.openai_compatible_base_url:
        providers["openai-compatible"] = OpenAICompatProvider(
            http, settings.openai_compatible_base_url,
            _key(settings.openai_compatible_api_key), name="openai-compatible",
            idle_timeout=idle, connect_timeout=connect,
        )  # fmt: skip
    if settings.bedrock_region:
        providers["bedrock"] = BedrockProvider(
            http, load_signer(settings.bedrock_region), endpoint_url=settings.bedrock_endpoint_url,
            idle_timeout=idle, connect_timeout=connect,
        )  # fmt: skip
    return providers


def build_registry(settings: Settings, http: aiohttp.ClientSession) -> ModelRegistry:
    """The registry from settings: defaults (ai-chatbot's ids + the demo ids), then the file."""
    entries: dict[str, _Entry] = {entry.info.id: entry for entry in DEFAULT_MODELS}
    if settings.chat_models_file is not None:
        extra, replace_defaults = load_model_file(settings.chat_models_file)
        if replace_defaults:
            entries = {}
        entries.update({entry.info.id: entry for entry in extra})
    for entry in DEMO_MODELS:
        entries.setdefault(entry.info.id, entry)
    providers = build_providers(settings, http)
    registry = ModelRegistry(settings, providers, list(entries.values()), http)
    log.info("models", backends=sorted(providers), models=len(registry.ids))
    return registry
