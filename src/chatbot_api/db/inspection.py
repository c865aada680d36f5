"""Classifying a database: empty, a Next.js ai-chatbot one (legacy), ours (managed), or unusable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy import types as sa_types
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

DRIZZLE_MIGRATIONS_AT_0008 = 9
StateKind = Literal["empty", "legacy", "managed", "partial", "unknown"]

# What the Next.js app's Drizzle migrations 0000-0008 leave: "column:kind", `?` = nullable.
LEGACY_SCHEMA_SPEC = {
    "User": "id:uuid email:string password:string?",
    "Chat": "id:uuid createdAt:timestamp title:string userId:uuid visibility:string",
    "Message_v2": "id:uuid chatId:uuid role:string parts:json attachments:json createdAt:timestamp",
    "Vote_v2": "chatId:uuid messageId:uuid isUpvoted:boolean",
    "Document": (
        "id:uuid createdAt:timestamp title:string content:string? text:string userId:uuid"
    ),
    "Suggestion": (
        "id:uuid documentId:uuid documentCreatedAt:timestamp originalText:string "
        "suggestedText:string description:string? isResolved:boolean userId:uuid "
        "createdAt:timestamp"
    ),
    "Stream": "id:uuid chatId:uuid createdAt:timestamp",
    "Message": "id:uuid chatId:uuid role:string content:json createdAt:timestamp",
    "Vote": "chatId:uuid messageId:uuid isUpvoted:boolean",
}


def _parse_spec(spec: str) -> dict[str, tuple[str, bool]]:
    columns = {}
    for item in spec.split():
        name, kind = item.split(":")
        columns[name] = (kind.rstrip("?"), kind.endswith("?"))
    return columns


# table -> column -> (kind, nullable)
LEGACY_SCHEMA = {table: _parse_spec(spec) for table, spec in LEGACY_SCHEMA_SPEC.items()}
_KINDS: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (sa_types.Uuid, "uuid"),
    (sa_types.String, "string"),
    (sa_types.JSON, "json"),
    (sa_types.DateTime, "timestamp"),
    (sa_types.Boolean, "boolean"),
)


@dataclass
class SchemaState:
    """What a database holds, as far as chatbot-api is concerned."""

    kind: StateKind
    tables: frozenset[str] = frozenset()
    revision: str | None = None
    problems: list[str] = field(default_factory=list)
    drizzle_migrations: int | None = None

    def describe(self) -> str:
        if self.kind == "empty":
            return "an empty database (no tables yet)"
        if self.kind == "managed":
            return f"a chatbot-api database at revision {self.revision}"
        if self.kind == "legacy":
            drizzle = (
                f", {self.drizzle_migrations} Drizzle migrations applied"
                if self.drizzle_migrations is not None
                else ""
            )
            return f"a database created by the Next.js ai-chatbot app{drizzle}, not yet adopted"
        if self.kind == "partial":
            return "an incomplete ai-chatbot schema: " + "; ".join(self.problems)
        return "tables that are not the ai-chatbot schema: " + ", ".join(sorted(self.tables))


async def inspect_state(conn: AsyncConnection) -> SchemaState:
    """Classify the database behind `conn`: empty, legacy (Next.js), managed, partial or unknown."""
    state = await conn.run_sync(_inspect_sync)
    if state.kind in ("legacy", "partial") and conn.dialect.name == "postgresql":
        state.drizzle_migrations = await _drizzle_count(conn)
        if state.kind == "partial" and (state.drizzle_migrations or 0) < DRIZZLE_MIGRATIONS_AT_0008:
            state.problems.append(
                "if this is a Next.js ai-chatbot database, run its migrations to the latest "
                "version first (`pnpm db:migrate`)"
            )
    return state


def _inspect_sync(connection: Connection) -> SchemaState:
    inspector = inspect(connection)
    tables = frozenset(inspector.get_table_names())
    if "alembic_version" in tables:
        revision = MigrationContext.configure(connection).get_current_revision()
        if revision is not None:
            return SchemaState("managed", tables, revision=revision)
    ours = tables & LEGACY_SCHEMA.keys()
    if not tables - {"alembic_version"}:
        return SchemaState("empty", tables)
    if not ours:
        return SchemaState("unknown", tables - {"alembic_version"})
    problems = [f'missing table "{name}"' for name in LEGACY_SCHEMA if name not in tables]
    for name in sorted(ours):
        columns = {col["name"]: col for col in inspector.get_columns(name)}
        problems.extend(_column_problems(name, columns))
    return SchemaState("partial" if problems else "legacy", tables, problems=problems)


def _column_problems(table: str, columns: dict[str, Any]) -> list[str]:
    problems = []
    for name, (kind, nullable) in LEGACY_SCHEMA[table].items():
        col = columns.get(name)
        if col is None:
            problems.append(f'missing column "{table}"."{name}"')
            continue
        found = _kind(col["type"])
        if found != kind:
            problems.append(f'column "{table}"."{name}" is {col["type"]}, expected {kind}')
        elif bool(col["nullable"]) != nullable:
            expected = "nullable" if nullable else "NOT NULL"
            problems.append(f'column "{table}"."{name}" should be {expected}')
    for name, col in columns.items():
        if name not in LEGACY_SCHEMA[table] and not col["nullable"] and col["default"] is None:
            problems.append(f'unexpected NOT NULL column "{table}"."{name}" without a default')
    return problems


def _kind(type_: Any) -> str | None:
    for base, kind in _KINDS:
        if isinstance(type_, base):
            return kind
    return None


async def _drizzle_count(conn: AsyncConnection) -> int | None:
    exists = await conn.scalar(text("SELECT to_regclass('drizzle.__drizzle_migrations')::text"))
    if exists is None:
        return None
    return int(await conn.scalar(text("SELECT count(*) FROM drizzle.__drizzle_migrations")) or 0)
