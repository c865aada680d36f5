"""Configuration: every setting the service reads, from the environment and `.env`."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET_MARKERS = ("change-me", "changeme", "secret", "your-secret", "dev-secret")
MIN_SECRET_BYTES = 32
DEV_SECRET_FILE = "dev-secret.key"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


def normalize_database_url(url: str) -> str:
    """Turn the URL forms users copy from the Next.js app into SQLAlchemy async URLs.

    `postgres://`, `postgresql://` and `postgresql+asyncpg://` all become
    `postgresql+asyncpg://`; libpq's `sslmode=` (Neon, Supabase, Vercel Postgres) becomes
    asyncpg's `ssl=`; libpq-only parameters asyncpg does not know are dropped.
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"):
        query = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "sslmode":
                query.append(("ssl", value))
            elif key in ("channel_binding", "options", "supa", "pgbouncer"):
                continue
            else:
                query.append((key, value))
        return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return "sqlite+aiosqlite:" + url.split(":", 1)[1]
    raise ConfigError(
        f"Unsupported database URL scheme {scheme!r}: use postgres://, postgresql:// or sqlite://"
    )


class Settings(BaseSettings):
    """Every setting of the service. Names follow the ai-chatbot migration plan where it has one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- service -------------------------------------------------------------------------
    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./data")
    log_level: str = "INFO"
    log_json: bool | None = None  # default: JSON in production, console otherwise
    # FastAPI's native OpenTelemetry (through globally configured providers): opt-in, since
    # looking for providers costs every request even when none is configured.
    otel_enabled: bool = False
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    public_base_url: str | None = None  # how clients reach us (for file URLs); else the request URL
    trust_proxy_headers: bool = False  # honour X-Forwarded-For for client IPs

    # --- database ------------------------------------------------------------------------
    postgres_url: str | None = Field(
        default=None, validation_alias=AliasChoices("POSTGRES_URL", "DATABASE_URL")
    )
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_echo: bool = False
    db_pool_pre_ping: bool = False  # test each pooled connection before use (+3 round trips)
    db_pool_recycle_seconds: int = 1800
    # An unreachable or silent PostgreSQL costs a request at most these, then 503.
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)  # wait for a pooled connection
    db_connect_timeout_seconds: float = Field(default=10.0, gt=0)  # open a new one
    db_statement_timeout_seconds: float = Field(default=30.0, gt=0)  # any one statement

    # --- auth ----------------------------------------------------------------------------
    jwt_secret_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_access_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    jwt_refresh_token_expire_days: int = Field(default=30, ge=1, le=365)
    auth_secret: SecretStr | None = None  # Next.js Auth.js secret: accept its session cookies
    auth_login_attempts_per_account: int = 10  # per 15 minutes
    auth_login_attempts_per_ip: int = 30  # per 15 minutes
    auth_register_per_ip: int = 10  # per hour
    auth_guest_per_ip: int = 60  # per hour

    # --- redis ---------------------------------------------------------------------------
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "KV_URL")
    )
    redis_key_prefix: str = "chatbot-api:"
    # Longest wait to connect to Redis and for each answer (then it counts as unreachable).
    redis_timeout_seconds: float = Field(default=1.0, gt=0, le=60)

    # --- stream logs (resumable chat turns) ----------------------------------------------
    stream_log_ttl_seconds: int = Field(default=24 * 3600, ge=60)  # expiry while live
    stream_log_closed_ttl_seconds: int = Field(default=300, ge=1)  # kept after the turn ends
    # Without Redis: all closed logs of a worker together hold at most this many bytes.
    stream_log_memory_max_closed_bytes: int = Field(default=64 * 2**20, ge=0)
    stream_log_flush_ms: float = Field(default=5.0, gt=0, le=1000)  # Redis write batching

    # --- storage -------------------------------------------------------------------------
    storage_backend: Literal["local", "s3", "vercel_blob"] | None = None  # None: auto
    local_storage_dir: Path | None = None  # default: <data_dir>/uploads
    max_upload_bytes: int = 5 * 1024 * 1024
    # Attachments beyond JPEG/PNG: uploads of PDF and UTF-8 text (txt, md, csv, json), and
    # ai-chatbot's body with any file type (the model decides). Off: ai-chatbot's own rule.
    allow_document_attachments: bool = False
    max_request_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)  # non-multipart
    blob_read_write_token: SecretStr | None = None
    blob_api_url: str = "https://blob.vercel-storage.com"
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_public_base_url: str | None = None  # e.g. a CDN in front of the bucket
    s3_force_path_style: bool = True

    # --- assistant cloud -----------------------------------------------------------------
    # API keys of servers that mint user tokens (`POST /v1/auth/tokens`): `workspace:key,…`
    assistant_cloud_api_keys: SecretStr | None = None
    assistant_cloud_project_id: str = "default"  # the `project_id` threads report
    assistant_cloud_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24)
    assistant_cloud_anonymous: bool = True  # allow `POST /v1/auth/tokens/anonymous`
    assistant_cloud_title_timeout_seconds: float = Field(default=20.0, gt=0)
    assistant_cloud_upload_url_expire_seconds: int = Field(default=900, ge=30, le=7 * 86400)
    assistant_cloud_max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    # assistant-ui's chat body: offer our backend tools too; honour `config.apiKey/baseUrl`
    assistant_ui_backend_tools: bool = True
    allow_client_provider_config: bool = False
    # Proxy mode: keep `/v1` threads and messages in this hosted Assistant Cloud instead
    assistant_ui_base_url: str | None = None
    assistant_ui_api_key: SecretStr | None = None
    assistant_ui_workspace_id: str | None = None  # API-key mode: `Aui-Workspace-Id`
    assistant_ui_timeout_seconds: float = Field(default=10.0, gt=0)
    assistant_ui_retries: int = Field(default=2, ge=0, le=5)  # idempotent calls only

    # --- entitlements --------------------------------------------------------------------
    guest_max_messages_per_day: int = Field(default=20, ge=0)
    regular_max_messages_per_day: int = Field(default=50, ge=0)

    # --- AI ------------------------------------------------------------------------------
    ai_gateway_api_key: SecretStr | None = None  # Vercel AI Gateway: serves every frontend id
    ai_gateway_url: str = "https://ai-gateway.vercel.sh/v1"  # its OpenAI-compatible base
    xai_api_key: SecretStr | None = None
    xai_base_url: str = "https://api.x.ai/v1"
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str = "https://api.anthropic.com/v1"
    google_api_key: SecretStr | None = Field(  # the Gemini API (Generative Language)
        default=None,
        validation_alias=AliasChoices("GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY"),
    )
    google_base_url: str = "https://generativelanguage.googleapis.com/v1beta"
    openai_compatible_base_url: str | None = None  # Ollama, vLLM, LM Studio, OpenRouter, …
    # Text attachments are inlined into the prompt, each at most this many bytes
    chat_text_file_max_bytes: int = Field(default=200 * 1024, ge=1)
    # PDFs and other binary attachments read from our storage or a data: URL, each at most
    chat_file_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    openai_compatible_api_key: SecretStr | None = None
    bedrock_region: str | None = None  # AWS Bedrock (Converse); credentials: botocore's chain
    bedrock_endpoint_url: str | None = None  # tests, VPC endpoints; default: by the region
    azure_openai_endpoint: str | None = None  # https://<resource>.openai.azure.com
    azure_openai_api_key: SecretStr | None = None  # or: an Entra ID token (one of the two)
    azure_openai_ad_token: SecretStr | None = None
    azure_openai_api_version: str = "2024-10-21"  # or `v1`: the v1 API (model in the body)
    # Its models to offer (default: every model its /models lists, read at start and after).
    openai_compatible_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    openai_compatible_discovery: bool = True
    openai_compatible_refresh_seconds: float = Field(default=300.0, ge=0)  # 0: at start only
    chat_models_file: Path | None = None  # YAML or JSON (docs/models.md)
    # Answers every id without a provider of its own: a model id, or `provider:upstream-id`.
    catch_all_model: str | None = None
    default_chat_model: str = "google/gemini-2.5-flash-lite"
    title_model: str = "google/gemini-2.5-flash-lite"
    artifact_model: str = "anthropic/claude-haiku-4.5"
    llm_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)  # per model, before its first token
    llm_retry_base_seconds: float = Field(default=0.5, ge=0)
    llm_retry_max_seconds: float = Field(default=8.0, ge=0)  # a longer Retry-After: fall back
    demo_model_word_delay_ms: int = Field(default=40, ge=0)
    max_output_tokens: int = Field(default=8192, ge=1)

    # --- chat turn -----------------------------------------------------------------------
    chat_max_steps: int = Field(default=5, ge=1, le=20)  # model steps per turn
    chat_max_history_messages: int = Field(default=200, ge=1)  # stored messages sent as context
    chat_step_idle_timeout_seconds: float = Field(default=90.0, gt=0)  # model silent → error
    chat_shutdown_grace_seconds: float = Field(default=20.0, ge=0)  # finish turns on shutdown
    chat_title_timeout_seconds: float = Field(default=20.0, gt=0)
    tool_timeout_seconds: float = Field(default=120.0, gt=0)
    weather_approval_required: bool = True  # getWeather waits for the user's approval
    weather_timeout_seconds: float = Field(default=10.0, gt=0)
    open_meteo_geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    open_meteo_forecast_url: str = "https://api.open-meteo.com/v1/forecast"

    @field_validator("environment", mode="before")
    @classmethod
    def _normalize_environment(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return {"prod": "production", "dev": "development"}.get(value, value)
        return value

    @field_validator("openai_compatible_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check_azure(self) -> Settings:
        credentials = [
            name
            for name, value in (
                ("AZURE_OPENAI_API_KEY", self.azure_openai_api_key),
                ("AZURE_OPENAI_AD_TOKEN", self.azure_openai_ad_token),
            )
            if value is not None and value.get_secret_value()
        ]
        if self.azure_openai_endpoint:
            if len(credentials) != 1:
                raise ConfigError(
                    "AZURE_OPENAI_ENDPOINT needs exactly one of AZURE_OPENAI_API_KEY and "
                    f"AZURE_OPENAI_AD_TOKEN (set: {', '.join(credentials) or 'neither'})."
                )
            if not self.azure_openai_endpoint.startswith(("https://", "http://")):
                raise ConfigError(
                    "AZURE_OPENAI_ENDPOINT must be a URL such as "
                    "https://<resource>.openai.azure.com."
                )
        elif credentials:
            raise ConfigError(
                f"{credentials[0]} is set but AZURE_OPENAI_ENDPOINT is not: set it to your "
                "resource's endpoint, e.g. https://<resource>.openai.azure.com."
            )
        return self

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.environment == "production":
            problem = _secret_problem(self.jwt_secret_key)
            if problem:
                raise ConfigError(
                    f"JWT_SECRET_KEY {problem}. In production set JWT_SECRET_KEY to a random "
                    f"value of at least {MIN_SECRET_BYTES} bytes, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
                )
            if self.auth_secret is not None:
                problem = _secret_problem(self.auth_secret)
                if problem:
                    raise ConfigError(
                        f"AUTH_SECRET {problem}. Use the same AUTH_SECRET as the Next.js app "
                        f"(at least {MIN_SECRET_BYTES} bytes), or unset it."
                    )
        return self

    # --- derived -------------------------------------------------------------------------
    @cached_property
    def database_url(self) -> str:
        if self.postgres_url:
            return normalize_database_url(self.postgres_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chatbot.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def jwt_secret(self) -> str:
        """The JWT signing key; outside production a generated one is kept in the data dir."""
        if self.jwt_secret_key is not None and self.jwt_secret_key.get_secret_value():
            return self.jwt_secret_key.get_secret_value()
        path = self.data_dir / DEV_SECRET_FILE
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret + "\n")
        path.chmod(0o600)
        return secret

    @property
    def upload_dir(self) -> Path:
        return self.local_storage_dir or self.data_dir / "uploads"

    @property
    def resolved_storage_backend(self) -> Literal["local", "s3", "vercel_blob"]:
        if self.storage_backend:
            return self.storage_backend
        if self.blob_read_write_token is not None:
            return "vercel_blob"
        if self.s3_bucket:
            return "s3"
        return "local"

    @cached_property
    def cloud_api_keys(self) -> dict[str, tuple[str, ...]]:
        """ASSISTANT_CLOUD_API_KEYS as workspace → its keys (`workspace:key,…`)."""
        secret = self.assistant_cloud_api_keys
        raw = secret.get_secret_value() if secret else ""
        keys: dict[str, tuple[str, ...]] = {}
        for item in raw.split(","):
            workspace, sep, key = item.strip().partition(":")
            if not sep or not workspace.strip() or not key.strip():
                continue
            keys[workspace.strip()] = (*keys.get(workspace.strip(), ()), key.strip())
        return keys

    def max_messages_per_day(self, user_type: str) -> int:
        if user_type == "guest":
            return self.guest_max_messages_per_day
        return self.regular_max_messages_per_day


def _secret_problem(secret: SecretStr | None) -> str | None:
    if secret is None or not secret.get_secret_value():
        return "is not set"
    value = secret.get_secret_value()
    if value.lower() in DEFAULT_SECRET_MARKERS or value.lower().startswith("change"):
        return "is a default placeholder"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None
