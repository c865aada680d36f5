"""create_app(): the lifespan builds engine, Redis, storage and auth state; middleware;
error handlers; routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from chatbot_api import __version__
from chatbot_api.ai.providers.http import create_llm_session
from chatbot_api.ai.registry import build_registry
from chatbot_api.api import include_routes
from chatbot_api.auth.setup import install_auth
from chatbot_api.chats.turn.setup import start_turns
from chatbot_api.core.config import Settings
from chatbot_api.core.gc import tune_gc_after_startup
from chatbot_api.core.handlers import install_error_handlers
from chatbot_api.core.logging import configure_logging
from chatbot_api.core.middleware import RequestContextMiddleware
from chatbot_api.core.openapi import install_openapi
from chatbot_api.core.redis import RedisHealth, create_redis
from chatbot_api.core.shutdown import Lifecycle, drain_on_signals
from chatbot_api.db.engine import create_engine, create_session_factory
from chatbot_api.files.storage import create_storage

log = structlog.get_logger("chatbot_api")

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

DESCRIPTION = """
A Python backend for AI chat frontends.

* **`/api/*`** — the Vercel ai-chatbot API (same routes, shapes and error envelope
  `{code, message[, cause]}`), plus `/api/auth/*` for bearer tokens.
* Authenticate with `Authorization: Bearer <access_token>` from `/api/auth/guest`,
  `/api/auth/register` or `/api/auth/login` (or the Next.js app's Auth.js cookie when
  `AUTH_SECRET` is set).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(
        settings.log_level,
        json=settings.log_json
        if settings.log_json is not None
        else settings.environment == "production",
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            echo=settings.db_echo,
            pre_ping=settings.db_pool_pre_ping,
            recycle=settings.db_pool_recycle_seconds,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_timeout=settings.db_connect_timeout_seconds,
            statement_timeout=settings.db_statement_timeout_seconds,
        )
        redis = create_redis(settings.redis_url, timeout=settings.redis_timeout_seconds)
        redis_health = RedisHealth()  # one per worker: every Redis feature with a fallback
        http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        app.state.engine = engine
        app.state.session_factory = create_session_factory(engine)
        app.state.redis = redis
        app.state.redis_health = redis_health
        app.state.http = http
        app.state.storage = create_storage(settings, http)
        llm_http = create_llm_session()  # LLM streams: their own client (aiohttp)
        models = app.state.models = build_registry(settings, llm_http)
        refresher: asyncio.Task[None] | None = None
        if models.discovers:  # the servers' model lists, before the first request
            await models.refresh()
            if settings.openai_compatible_refresh_seconds > 0:
                refresher = asyncio.create_task(
                    models.keep_refreshed(settings.openai_compatible_refresh_seconds)
                )
        models.log_table()
        turns = await start_turns(
            settings,
            engine,
            app.state.session_factory,
            app.state.models,
            redis,
            redis_health,
            http,
            storage=app.state.storage,
        )
        app.state.turn_deps = turns.deps
        lifecycle = app.state.lifecycle = Lifecycle()

        async def drain(skip_wait: asyncio.Event) -> None:
            """Shutdown: refuse new turns (readiness 503), let running ones finish."""
            lifecycle.draining = True
            grace = settings.chat_shutdown_grace_seconds
            await turns.deps.turns.drain(grace, skip_wait)

        restore_signals = drain_on_signals(drain)
        revoked = install_auth(app.state, settings, redis, redis_health)
        log.info(
            "started",
            version=__version__,
            environment=settings.environment,
            database="sqlite" if settings.is_sqlite else "postgresql",
            redis=redis is not None,
            storage=settings.resolved_storage_backend,
        )
        if settings.environment != "test":
            tune_gc_after_startup()
        try:
            yield
        finally:
            restore_signals()
            # Running turns end (and save their replies) before resources close; after a
            # signal's drain there are none left.
            await drain(asyncio.Event())
            await turns.aclose()
            if refresher is not None:
                refresher.cancel()
            await models.aclose()
            await llm_http.close()
            if revoked is not None:
                await revoked.aclose()
            await app.state.storage.aclose()
            await http.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title="chatbot-api",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=None if settings.otel_enabled else _NO_TELEMETRY,
    )
    app.state.settings = settings
    install_error_handlers(app)
    include_routes(app)
    install_openapi(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Aui-Sdk",
                "Aui-User-Id",
                "Aui-Workspace-Id",
                "X-Request-ID",
            ],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_body_bytes)
    return app
