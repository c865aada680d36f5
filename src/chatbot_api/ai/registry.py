"""The model registry: which model ids exist and who answers each, composed from the settings
(each provider's key enables it), the models file and the models OpenAI-compatible servers
list. ai-chatbot's ids go to the AI Gateway, else to their own vendor, else to one catch-all
model; the demo model answers only when no provider is configured at all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

import aiohttp
import orjson
import structlog

from chatbot_api.ai.base import Provider
from chatbot_api.ai.demo import ARTIFACT_MODEL_ID, CHAT_MODEL_ID, TITLE_MODEL_ID, DemoProvider
from chatbot_api.ai.model_catalog import (
    DEMO_IDS,
    CatalogEntry,
    ModelInfo,
    ModelsConfig,
    Server,
    models_config,
    provider_form,
    secret_text,
    strip_thinking,
)
from chatbot_api.ai.models_file import Price
from chatbot_api.ai.prompts import is_reasoning_model
from chatbot_api.ai.providers.anthropic import AnthropicProvider
from chatbot_api.ai.providers.azure import AzureOpenAIProvider
from chatbot_api.ai.providers.bedrock import BedrockProvider, load_signer
from chatbot_api.ai.providers.gemini import GeminiProvider
from chatbot_api.ai.providers.openai_compat import OpenAICompatProvider
from chatbot_api.ai.resilience import RetryPolicy, Target
from chatbot_api.core.config import Settings
from chatbot_api.core.errors import AppError

log = structlog.get_logger("chatbot_api.ai")

# A model id's prefix → the vendor provider that answers it when its key is set.
VENDOR_PROVIDERS = {"openai": "openai", "xai": "xai", "anthropic": "anthropic", "google": "google"}
# The catch-all model when none is configured: the first of these its provider answers.
AUTO_CATCH_ALL = (
    "openai/gpt-4.1-mini",
    "anthropic/claude-haiku-4.5",
    "google/gemini-2.5-flash-lite",
    "xai/grok-4.1-fast-non-reasoning",
)
MAX_ID_IN_ERROR = 100
DISCOVERY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model ready to call: `targets` answer it in order (the first, then its fallbacks,
    before the first token only); the rest is what the models file says of it."""

    info: ModelInfo
    targets: tuple[Target, ...]
    tools: bool = True
    user_types: frozenset[str] | None = None
    max_output_tokens: int | None = None
    price: Price | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def provider(self) -> Provider:
        return self.targets[0].provider

    @property
    def upstream_model(self) -> str:
        return self.targets[0].upstream_model

    @property
    def backend(self) -> str:
        return self.targets[0].provider_name

    @property
    def is_demo(self) -> bool:
        return self.backend == "demo"

    @property
    def reasoning(self) -> bool:
        return self.targets[0].reasoning

    def may_use(self, user_type: str) -> bool:
        return self.user_types is None or user_type in self.user_types


# --- the registry ---------------------------------------------------------------------------


class ModelRegistry:
    """Resolves model ids to who answers them; lists the models pickers offer. The table is
    rebuilt whenever a server's model list changes (`refresh`); resolved models in use keep
    what they had."""

    def __init__(
        self,
        settings: Settings,
        config: ModelsConfig,
        providers: dict[str, Provider],
        http: aiohttp.ClientSession,
    ) -> None:
        self._config = config
        self._providers = providers
        self.http = http  # the providers' session, also for one made per turn (client config)
        self.demo_only = config.demo_only
        self.default_chat_model = settings.default_chat_model
        self._title_id = settings.title_model
        self._artifact_id = settings.artifact_model
        self._retry = RetryPolicy(
            settings.llm_max_retries,
            settings.llm_retry_base_seconds,
            settings.llm_retry_max_seconds,
        )
        self._discovered: dict[str, tuple[str, ...]] = {}
        self._resolved: dict[str, ResolvedModel] = {}
        self._unanswered: set[str] = set()
        self.models: list[ModelInfo] = []
        self._build()

    # The table --------------------------------------------------------------------------
    def _entries(self) -> list[CatalogEntry]:
        entries = {entry.info.id: entry for entry in self._config.entries}
        for server in self._config.servers:
            found = self._discovered.get(server.name)
            offered = server.models if found is None or server.models else found
            for upstream in offered:
                model_id = server.id_prefix + upstream
                if model_id in entries:
                    continue  # an entry of its own (the file's) wins
                info = ModelInfo(
                    model_id,
                    model_id,
                    f"{upstream} on {server.name}",
                    server.name,
                    is_reasoning_model(upstream),
                )
                entries[model_id] = CatalogEntry(info, provider=server.name, upstream=upstream)
        return list(entries.values())

    def _build(self) -> None:
        entries = self._entries()
        own: dict[str, Target] = {}  # who answers each entry without the catch-all
        for entry in entries:
            target = self._own_target(entry)
            if target is not None:
                own[entry.info.id] = target
        by_id = {entry.info.id: entry for entry in entries}
        catch_all = self._catch_all(own, by_id)
        if catch_all is not None and catch_all.info.id not in by_id:  # `provider:upstream`
            entries.append(catch_all)
            by_id[catch_all.info.id] = catch_all
        base = None
        if catch_all is not None:
            targets = (own[catch_all.info.id], *self._fallbacks(catch_all, own))
            base = self._resolved_model(catch_all, targets)
        resolved: dict[str, ResolvedModel] = {}
        unanswered: set[str] = set()
        for entry in entries:
            if entry.info.id in own:
                targets = (own[entry.info.id], *self._fallbacks(entry, own))
                resolved[entry.info.id] = self._resolved_model(entry, targets)
            elif base is not None:
                resolved[entry.info.id] = replace(
                    base, info=entry.info, user_types=entry.user_types
                )
            else:
                unanswered.add(entry.info.id)
        self._resolved = resolved
        self._unanswered = unanswered
        self.catch_all_id = catch_all.info.id if catch_all is not None else None
        self.models = [
            resolved_model.info
            for model_id, resolved_model in resolved.items()
            if not by_id[model_id].hidden and (self.demo_only or model_id not in DEMO_IDS)
        ]

    def _own_target(self, entry: CatalogEntry) -> Target | None:
        """Who answers the entry without the catch-all: its provider, the Gateway, its vendor
        (or, with no provider configured at all, the demo model); None: the catch-all."""
        model_id = entry.info.id
        name = entry.provider
        upstream = entry.upstream
        if name is None:
            vendor = VENDOR_PROVIDERS.get(model_id.split("/", 1)[0]) if "/" in model_id else None
            if self.demo_only:
                name = "demo"
            elif model_id in DEMO_IDS:
                return None
            elif "gateway" in self._providers:
                name = "gateway"
                upstream = upstream or strip_thinking(model_id)
            elif vendor is not None and vendor in self._providers:
                name = vendor
                upstream = (
                    upstream or entry.vendor_upstream or strip_thinking(model_id).split("/", 1)[-1]
                )
            else:
                return None
        if name == "demo":
            upstream = model_id if model_id in DEMO_IDS else CHAT_MODEL_ID
        elif upstream is None and name in VENDOR_PROVIDERS.values():  # `openai/gpt-4o` → gpt-4o
            upstream = strip_thinking(model_id).split("/", 1)[-1]
        return Target(
            self._providers[name], name, upstream or model_id, model_id, entry.info.reasoning
        )

    def _catch_all(
        self, own: dict[str, Target], by_id: dict[str, CatalogEntry]
    ) -> CatalogEntry | None:
        configured = self._config.catch_all
        if configured is not None:
            form = provider_form(configured, self._config)
            if form is not None and configured not in by_id:
                name, upstream = form
                info = ModelInfo(configured, upstream, "", name, is_reasoning_model(upstream))
                own[configured] = Target(
                    self._providers[name], name, upstream, configured, info.reasoning
                )
                return CatalogEntry(info, provider=name, upstream=upstream, hidden=True)
            if configured in own:
                return by_id[configured]
            return None  # a server's model not listed yet: nothing until it is
        for model_id in AUTO_CATCH_ALL:
            if model_id in own and own[model_id].provider_name != "demo":
                return by_id[model_id]
        for server in self._config.servers:  # the first model of a server
            for model_id, target in own.items():
                if target.provider_name == server.name:
                    return by_id[model_id]
        for model_id, target in own.items():  # the file's first model with a provider
            if target.provider_name != "demo":
                return by_id[model_id]
        return None

    def _fallbacks(self, entry: CatalogEntry, own: dict[str, Target]) -> list[Target]:
        targets = []
        for fallback in entry.fallbacks:
            target = own.get(fallback)
            if target is None:
                log.warning(
                    "fallback model not answered yet", model=entry.info.id, fallback=fallback
                )
            else:
                targets.append(target)
        return targets

    def _resolved_model(self, entry: CatalogEntry, targets: tuple[Target, ...]) -> ResolvedModel:
        return ResolvedModel(
            entry.info,
            targets,
            tools=entry.tools,
            user_types=entry.user_types,
            max_output_tokens=entry.max_output_tokens,
            price=entry.price,
            retry=self._retry,
        )

    # Lookups ----------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return list(self._resolved)

    def resolve(self, model_id: str) -> ResolvedModel:
        """The model for `model_id`; an unknown id is a 400 listing the allowed ids, an id no
        provider answers (yet) a 503 saying so."""
        resolved = self._resolved.get(model_id)
        if resolved is not None:
            return resolved
        shown = model_id[:MAX_ID_IN_ERROR] + ("…" if len(model_id) > MAX_ID_IN_ERROR else "")
        if model_id in self._unanswered:
            raise AppError(
                f"No provider answers model '{shown}': set CATCH_ALL_MODEL, or give it a "
                "provider in CHAT_MODELS_FILE",
                code="offline:chat",
            )
        allowed = ", ".join(info.id for info in self.models)
        raise AppError(f"Unknown model '{shown}'. Allowed: {allowed}", code="bad_request:api")

    def _special(self, model_id: str, demo_id: str) -> ResolvedModel:
        resolved = self._resolved.get(model_id)
        if resolved is None:  # a title/artifact model need not be offered in pickers
            resolved = self._resolved.get(self.catch_all_id or "") or self.resolve(model_id)
        if resolved.is_demo:
            target = replace(resolved.targets[0], upstream_model=demo_id)
            resolved = replace(resolved, targets=(target,))
        return resolved

    def title_model(self) -> ResolvedModel:
        return self._special(self._title_id, TITLE_MODEL_ID)

    def artifact_model(self) -> ResolvedModel:
        return self._special(self._artifact_id, ARTIFACT_MODEL_ID)

    def table(self) -> list[dict[str, Any]]:
        """Every id with who answers it: the startup log and `chatbot-api models list`."""
        rows = []
        for model_id, resolved in self._resolved.items():
            rows.append(
                {
                    "id": model_id,
                    "provider": resolved.backend,
                    "upstream": resolved.upstream_model,
                    "fallbacks": [t.model_id for t in resolved.targets[1:]],
                    "user_types": sorted(resolved.user_types) if resolved.user_types else None,
                    "listed": resolved.info in self.models,
                }
            )
        for model_id in self._unanswered:
            rows.append(
                {
                    "id": model_id,
                    "provider": None,
                    "upstream": None,
                    "fallbacks": [],
                    "user_types": None,
                    "listed": False,
                }
            )
        return rows

    def log_table(self) -> None:
        log.info(
            "models",
            providers=[p for p in self._config.providers if p != "demo"] or ["demo"],
            catch_all=self.catch_all_id,
            models=len(self._resolved),
        )
        for row in self.table():
            log.info("model", **row)

    # Discovery --------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Read each discovering server's model list once; rebuild the table if one changed."""
        changed = False
        for server in self._config.servers:
            if not server.discover:
                continue
            found = await self._discover(server)
            if found is not None and self._discovered.get(server.name) != found:
                self._discovered[server.name] = found
                changed = True
                missing = sorted(set(server.models) - set(found))
                log.info(
                    "server models", server=server.name, models=list(found), missing=missing or None
                )
        if changed:
            self._build()

    async def _discover(self, server: Server) -> tuple[str, ...] | None:
        url = server.base_url.rstrip("/") + "/models"
        headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
        try:
            async with self.http.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=DISCOVERY_TIMEOUT_SECONDS)
            ) as response:
                if response.status != 200:
                    log.warning(
                        "server models unavailable", server=server.name, status=response.status
                    )
                    return None
                body = orjson.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError, OSError) as exc:
            log.warning("server models unavailable", server=server.name, error=repr(exc))
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            log.warning("server models unreadable", server=server.name)
            return None
        ids = [
            item["id"]
            for item in data
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]
        return tuple(dict.fromkeys(ids))

    async def keep_refreshed(self, interval: float) -> None:
        """Refresh every `interval` seconds, for ever (the app cancels it)."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh()

    @property
    def discovers(self) -> bool:
        return any(server.discover for server in self._config.servers)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()


class Timeouts(TypedDict):
    idle_timeout: float
    connect_timeout: float


def build_providers(
    settings: Settings, config: ModelsConfig, http: aiohttp.ClientSession
) -> dict[str, Provider]:
    """One provider per configured name (the file's servers too), plus the demo model."""

    def limits(name: str) -> Timeouts:
        """Its timeouts: the models file's, else the LLM_* settings."""
        entry = config.timeouts.get(name)
        idle = entry.read_timeout_seconds if entry else None
        connect = entry.connect_timeout_seconds if entry else None
        return Timeouts(
            idle_timeout=idle or settings.llm_idle_timeout_seconds,
            connect_timeout=connect or settings.llm_connect_timeout_seconds,
        )

    providers: dict[str, Provider] = {
        "demo": DemoProvider(settings.demo_model_word_delay_ms / 1000)
    }
    if key := secret_text(settings.ai_gateway_api_key):
        providers["gateway"] = OpenAICompatProvider(
            http, settings.ai_gateway_url, key, name="ai-gateway", reasoning_style="gateway",
            **limits("gateway"),
        )  # fmt: skip
    if key := secret_text(settings.openai_api_key):
        providers["openai"] = OpenAICompatProvider(
            http, settings.openai_base_url, key, name="openai",
            max_tokens_field="max_completion_tokens", think_tags=False, **limits("openai"),
        )  # fmt: skip
    if key := secret_text(settings.xai_api_key):
        providers["xai"] = OpenAICompatProvider(
            http, settings.xai_base_url, key, name="xai", **limits("xai")
        )
    if key := secret_text(settings.anthropic_api_key):
        providers["anthropic"] = AnthropicProvider(
            http, settings.anthropic_base_url, key, name="anthropic", **limits("anthropic")
        )
    if key := secret_text(settings.google_api_key):
        providers["google"] = GeminiProvider(
            http, settings.google_base_url, key, name="google", **limits("google")
        )
    if settings.azure_openai_endpoint:  # the settings hold exactly one of key and token
        providers["azure"] = AzureOpenAIProvider(
            http, settings.azure_openai_endpoint,
            api_key=secret_text(settings.azure_openai_api_key),
            ad_token=secret_text(settings.azure_openai_ad_token),
            api_version=settings.azure_openai_api_version, **limits("azure"),
        )  # fmt: skip
    if settings.bedrock_region:
        providers["bedrock"] = BedrockProvider(
            http, load_signer(settings.bedrock_region),
            endpoint_url=settings.bedrock_endpoint_url, **limits("bedrock"),
        )  # fmt: skip
    for server in config.servers:
        providers[server.name] = OpenAICompatProvider(
            http, server.base_url, server.api_key, name=server.name, **limits(server.name)
        )
    return providers


def build_registry(
    settings: Settings, http: aiohttp.ClientSession, config: ModelsConfig | None = None
) -> ModelRegistry:
    """The registry from the settings and the models file (servers' lists come by `refresh`)."""
    config = config or models_config(settings)
    return ModelRegistry(settings, config, build_providers(settings, config, http), http)
