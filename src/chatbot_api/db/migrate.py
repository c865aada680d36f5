"""Running Alembic from code: upgrade, current revision (used by the CLI, `serve` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade_head(engine: AsyncEngine) -> None:
    """Apply every pending revision on `engine`'s database."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync)


def _upgrade_sync(connection: object) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
