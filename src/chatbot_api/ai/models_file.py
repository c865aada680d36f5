"""The models file (CHAT_MODELS_FILE, YAML or JSON): extra OpenAI-compatible servers, provider
timeouts, and the models a picker offers with who answers each. Its schema is the pydantic
models below (exported as docs/models.schema.json); every mistake is one line naming the
file, the entry and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatbot_api.core.config import ConfigError

UserType = Literal["guest", "regular"]
# The providers the settings configure; a models file adds OpenAI-compatible servers by name.
BUILTIN_PROVIDERS = (
    "gateway",
    "openai",
    "anthropic",
    "google",
    "xai",
    "azure",
    "bedrock",
    "openai-compatible",
    "demo",
)
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProviderEntry(_Strict):
    """A provider: timeouts for a built-in one, or a whole OpenAI-compatible server."""

    type: Literal["openai-compatible"] | None = Field(
        default=None, description="Only for a new server (any name not built in)"
    )
    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Its OpenAI-compatible API root, e.g. http://localhost:11434/v1",
        validation_alias=AliasChoices("base_url", "baseUrl"),
    )
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The environment variable holding its API key (keys stay out of files)",
        validation_alias=AliasChoices("api_key_env", "apiKeyEnv"),
    )
    models: list[str] | None = Field(
        default=None,
        description="Its models to offer; default: every model its /models lists",
    )
    discover: bool = Field(default=True, description="Read its /models at start and after")
    id_prefix: str = Field(
        default="",
        max_length=64,
        description="Prepended to its model ids in the registry (e.g. `ollama/`)",
        validation_alias=AliasChoices("id_prefix", "idPrefix"),
    )
    connect_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        validation_alias=AliasChoices("connect_timeout_seconds", "connectTimeoutSeconds"),
    )
    read_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="The longest silence of a stream before it fails",
        validation_alias=AliasChoices("read_timeout_seconds", "readTimeoutSeconds"),
    )


class Price(_Strict):
    """US dollars per million tokens (validated; a cost per message is not stored yet)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("cached_input", "cachedInput")
    )


class ModelEntry(_Strict):
    """One model id the API accepts."""

    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200, description="Default: the id")
    description: str = Field(default="", max_length=1000)
    group: str | None = Field(
        default=None, max_length=64, description="Its picker group; default: the id's prefix"
    )
    provider: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Who answers: a built-in provider or a server of `providers`; default: "
        "routed like ai-chatbot's ids (the Gateway, the id's vendor, or the catch-all model)",
        validation_alias=AliasChoices("provider", "backend"),
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The provider's own id for it; default: derived from the id",
        validation_alias=AliasChoices("model", "upstream_model", "upstreamModel"),
    )
    reasoning: bool | None = Field(
        default=None, description="Streams its thinking, gets no tools; default: from the id"
    )
    tools: bool = Field(default=True, description="Offer it the chat's tools")
    user_types: list[UserType] | None = Field(
        default=None,
        description="Who may use it (default: everyone); others get 403 naming it",
        validation_alias=AliasChoices("user_types", "userTypes"),
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("max_output_tokens", "maxOutputTokens")
    )
    fallbacks: list[str] = Field(
        default_factory=list,
        description="Model ids tried in order when this one fails before its first token",
    )
    price: Price | None = None
    hidden: bool = Field(default=False, description="Accepted, but not listed in pickers")


class ModelsFile(_Strict):
    """CHAT_MODELS_FILE."""

    providers: dict[str, ProviderEntry] = Field(default_factory=dict)
    models: list[ModelEntry] = Field(default_factory=list)
    replace_defaults: bool = Field(
        default=False,
        description="Offer only this file's models (ai-chatbot's ids are then unknown)",
        validation_alias=AliasChoices("replace_defaults", "replaceDefaults"),
    )
    catch_all_model: str | None = Field(
        default=None,
        description="The model that answers every id without a provider of its own "
        "(CATCH_ALL_MODEL overrides it)",
        validation_alias=AliasChoices("catch_all_model", "catchAllModel"),
    )

    @model_validator(mode="after")
    def _check(self) -> ModelsFile:
        for name, entry in self.providers.items():
            if not _matches_name(name):
                raise ValueError(f"providers.{name}: a name of a-z, 0-9, '_', '.', '-'")
            if name in BUILTIN_PROVIDERS:
                if entry.type or entry.base_url or entry.models or entry.api_key_env:
                    raise ValueError(
                        f"providers.{name}: a built-in provider takes only timeouts here "
                        "(its URL and key come from the settings)"
                    )
            elif entry.type is None or entry.base_url is None:
                raise ValueError(
                    f"providers.{name}: a new server needs `type: openai-compatible` and `base_url`"
                )
        seen: set[str] = set()
        for index, model in enumerate(self.models):
            where = f"models[{index}] ({model.id})"
            if model.id in seen:
                raise ValueError(f"{where}.id: listed twice")
            seen.add(model.id)
            provider = model.provider
            if provider and provider not in BUILTIN_PROVIDERS and provider not in self.providers:
                raise ValueError(
                    f"{where}.provider: unknown provider {provider!r} "
                    f"(built in: {', '.join(BUILTIN_PROVIDERS)}; or add it to `providers`)"
                )
            if model.id in model.fallbacks:
                raise ValueError(f"{where}.fallbacks: lists the model itself")
        return self


def _matches_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


def _decode(path: Path, data: bytes) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"CHAT_MODELS_FILE {path}:{where}: invalid YAML: {problem}") from exc
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(
            f"CHAT_MODELS_FILE {path}: line {exc.lineno}, column {exc.colno}: invalid JSON: "
            f"{exc.msg}"
        ) from exc


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """`models[2] (my-id).tools` from a pydantic location."""
    out = ""
    node = raw
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                out += f" ({node['id']})"
        else:
            out += f".{step}" if out else str(step)
            node = node.get(step) if isinstance(node, dict) else None
    return out or "the file"


def load(path: Path) -> ModelsFile:
    """The file, validated; ConfigError (one line) for any mistake."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"CHAT_MODELS_FILE {path}: cannot read it: {exc.strerror}") from exc
    raw = _decode(path, data)
    if isinstance(raw, list):  # a bare list of models
        raw = {"models": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"CHAT_MODELS_FILE {path}: expected a mapping with `models`")
    try:
        return ModelsFile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more)" if more else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["loc"] == () or error["type"] == "value_error":
            raise ConfigError(f"CHAT_MODELS_FILE {path}: {message}{suffix}") from exc
        where = _where(raw, tuple(error["loc"]))
        raise ConfigError(f"CHAT_MODELS_FILE {path}: {where}: {message}{suffix}") from exc


def json_schema() -> str:
    """The file's JSON Schema, as committed in docs/models.schema.json."""
    schema = ModelsFile.model_json_schema(by_alias=False)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chatbot-api models file (CHAT_MODELS_FILE)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
