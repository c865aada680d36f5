"""The `chatbot-api` command: `serve`, `db upgrade|current|adopt`, `models list|check`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import AliasChoices, ValidationError

from chatbot_api.ai.model_catalog import ModelsConfig, models_config
from chatbot_api.core.config import ConfigError, Settings
from chatbot_api.db import migrate

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_CONFIG = 2

app = typer.Typer(
    name="chatbot-api",
    help="A FastAPI backend for AI chat frontends (a drop-in for the Vercel ai-chatbot API).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Database schema: create, upgrade, adopt a Next.js ai-chatbot database.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
models_app = typer.Typer(
    help="The chat models: who answers each id; check a models file.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _env_name(field_name: str) -> str:
    info = Settings.model_fields.get(field_name)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return field_name.upper()


def describe_validation_error(exc: ValidationError) -> str:
    """One line per invalid setting, named by its environment variable."""
    lines = []
    for error in exc.errors():
        name = _env_name(str(error["loc"][0])) if error["loc"] else "settings"
        lines.append(f"invalid {name}: {error['msg']} (got {error.get('input')!r})")
    return "; ".join(lines)


def load_settings() -> Settings:
    """Read the settings, or exit 2 with one clear line saying what to fix."""
    try:
        settings = Settings()
        _ = settings.database_url  # validates POSTGRES_URL's scheme now, not at first use
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    except ValidationError as exc:
        _fail(describe_validation_error(exc), EXIT_CONFIG)
    return settings


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except migrate.MigrationError as exc:
        _fail(str(exc))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            help="Create, adopt or upgrade the database schema before starting.",
        ),
    ] = True,
) -> None:
    """Run the HTTP server (after bringing the database schema up to date)."""
    import uvicorn

    settings = load_settings()
    _models_config(settings)  # a models mistake stops here, before any migration
    if migrate_first:
        _run(migrate.migrate_on_startup(settings.database_url, echo=typer.echo))
    else:
        typer.echo("Skipping migrations (--no-migrate)")
    if reload and workers > 1:
        _fail("--reload and --workers > 1 cannot be combined", EXIT_CONFIG)
    # Make (or read) the development secret once, so every worker signs with the same key.
    _ = settings.jwt_secret
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    typer.echo(
        f"Starting chatbot-api ({settings.environment}) on {base} with {workers} "
        f"worker{'s' if workers > 1 else ''}; API docs at {base}/docs"
    )
    uvicorn.run(
        "chatbot_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        reload_dirs=[str(Path(__file__).resolve().parent)] if reload else None,
        proxy_headers=settings.trust_proxy_headers,
        log_level=settings.log_level.lower(),
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema on an empty database, or apply pending migrations."""
    settings = load_settings()
    _run(migrate.upgrade(settings.database_url, echo=typer.echo))


@db_app.command("adopt")
def db_adopt() -> None:
    """Take over a database created by the Next.js ai-chatbot app, without changing its tables."""
    settings = load_settings()
    _run(migrate.adopt(settings.database_url, echo=typer.echo))


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema state and revision (changes nothing)."""
    settings = load_settings()
    state = _run(migrate.current(settings.database_url, echo=typer.echo))
    try:
        head = migrate.head_revision()
    except migrate.MigrationError as exc:
        _fail(str(exc))
    typer.echo(f"Found {state.describe()}")
    if state.kind == "managed":
        typer.echo(
            f"Current revision: {state.revision}" + (" (head)" if state.revision == head else "")
        )
        if state.revision != head:
            typer.echo(f"Head revision: {head}; run `chatbot-api db upgrade`")
    elif state.kind == "empty":
        typer.echo(f"Current revision: none; run `chatbot-api db upgrade` to create {head}")
    elif state.kind == "legacy":
        typer.echo("Current revision: none; run `chatbot-api db adopt` to adopt it")
    else:
        _fail("chatbot-api cannot use this database as it is (see above)")


def _models_config(settings: Settings) -> ModelsConfig:
    try:
        return models_config(settings)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)


@models_app.command("list")
def models_list() -> None:
    """Print every model id with the provider and upstream model that answer it (servers'
    model lists are read first)."""
    settings = load_settings()
    config = _models_config(settings)
    rows = asyncio.run(_resolved_table(settings, config))
    header = ("ID", "PROVIDER", "UPSTREAM MODEL", "FALLBACKS", "USERS", "LISTED")
    table = [header] + [
        (
            row["id"],
            row["provider"] or "(none yet)",
            row["upstream"] or "-",
            ",".join(row["fallbacks"]) or "-",
            ",".join(row["user_types"] or ["all"]),
            "yes" if row["listed"] else "no",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


async def _resolved_table(settings: Settings, config: ModelsConfig) -> list[dict[str, Any]]:
    from chatbot_api.ai.providers.http import create_llm_session
    from chatbot_api.ai.registry import build_registry

    async with create_llm_session() as http:
        registry = build_registry(settings, http, config)
        if registry.discovers:
            typer.echo("Reading the OpenAI-compatible servers' model lists…", err=True)
            await registry.refresh()
        return registry.table()


@models_app.command("check")
def models_check(
    path: Annotated[Path, typer.Argument(help="The models file (YAML or JSON).")],
) -> None:
    """Validate a models file against these settings, without starting anything."""
    settings = load_settings()
    config = _models_config(settings.model_copy(update={"chat_models_file": path}))
    file = config.file
    count = len(file.models) if file is not None else 0
    servers = len(file.providers) if file is not None else 0
    typer.echo(f"{path}: OK ({count} models, {servers} providers)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
