"""Schema lifecycle: inspect a database, create it, adopt a Next.js one, upgrade, under a lock."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatbot_api.db.engine import create_engine
from chatbot_api.db.inspection import SchemaState, inspect_state

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BASELINE_REVISION = "0001_baseline"
# Session-level advisory lock key shared by every chatbot-api process migrating a database.
ADVISORY_LOCK_KEY = 0x63_62_61_70_69_5F_6D_67  # b"cbapi_mg"

Echo = Callable[[str], None]


class MigrationError(RuntimeError):
    """The database cannot be migrated as asked; the message says why and what to do."""


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def display_url(url: str) -> str:
    """The URL with its password hidden, for progress lines."""
    return make_url(url).render_as_string(hide_password=True)


def _print(line: str) -> None:
    print(line, flush=True)


# --- revisions -----------------------------------------------------------------------------


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    heads = _script().get_heads()
    if len(heads) != 1:
        raise MigrationError(
            f"The migrations have {len(heads)} heads ({', '.join(heads)}); "
            "they must form one line. Merge them before migrating."
        )
    return heads[0]


def pending_revisions(current: str | None) -> list[tuple[str, str]]:
    """(revision, first line of its description) from `current` (exclusive) to head, in order."""
    script = _script()
    head = head_revision()
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as exc:
            raise MigrationError(
                f"The database is at revision {current}, which this version of chatbot-api "
                "does not know: it was migrated by a newer release. Upgrade chatbot-api."
            ) from exc
    revisions = list(script.iterate_revisions(head, current or "base"))
    return [
        (rev.revision, (rev.doc or "").strip().splitlines()[0] if rev.doc else "")
        for rev in reversed(revisions)
    ]


def _alembic_sync(connection: Connection, steps: list[tuple[str, str]]) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    for name, revision in steps:
        if name == "stamp":
            command.stamp(config, revision)
        else:
            command.upgrade(config, revision)


async def _apply(conn: AsyncConnection, current: str | None, echo: Echo, *, stamp: bool) -> str:
    """Stamp the baseline (adoption) if asked, then apply every pending revision."""
    steps: list[tuple[str, str]] = []
    if stamp:
        echo(f"Stamping the baseline {BASELINE_REVISION} (the Next.js tables are left as they are)")
        steps.append(("stamp", BASELINE_REVISION))
        current = BASELINE_REVISION
    pending = pending_revisions(current)
    for revision, doc in pending:
        echo(f"  applying {revision}: {doc}" if doc else f"  applying {revision}")
    if pending:
        steps.append(("upgrade", "head"))
    if steps:
        try:
            await conn.run_sync(_alembic_sync, steps)
        except (CommandError, SQLAlchemyError) as exc:
            raise MigrationError(f"Migration failed: {_reason(exc)}") from exc
    head = head_revision()
    if pending:
        echo(f"Database schema is at {head} (up to date)")
    else:
        echo(f"Nothing to do: the database is already at {head}")
    return head


async def upgrade_head(engine: AsyncEngine) -> None:
    """Apply every pending revision on `engine`'s database (no checks; used by tests)."""
    async with engine.begin() as conn:
        await conn.run_sync(_alembic_sync, [("upgrade", "head")])


# --- locking -------------------------------------------------------------------------------


@asynccontextmanager
async def migration_lock(engine: AsyncEngine, echo: Echo) -> AsyncIterator[None]:
    """Serialise migrations across processes: a PostgreSQL advisory lock on a dedicated
    connection, or an exclusive file lock next to a SQLite database file."""
    if engine.dialect.name == "postgresql":
        async with _pg_lock(engine, echo):
            yield
        return
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    async with _file_lock(Path(path).with_name(Path(path).name + ".migrate.lock"), echo):
        yield


@asynccontextmanager
async def _pg_lock(engine: AsyncEngine, echo: Echo) -> AsyncIterator[None]:
    key = {"key": ADVISORY_LOCK_KEY}
    async with engine.connect() as lock_conn:
        if not await lock_conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
            echo("Another process is migrating this database; waiting for it to finish")
            await lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
        await lock_conn.commit()
        try:
            yield
        finally:
            await lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            await lock_conn.commit()


@asynccontextmanager
async def _file_lock(path: Path, echo: Echo) -> AsyncIterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: single-process use only
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo("Another process is migrating this database; waiting for it to finish")
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- operations ----------------------------------------------------------------------------

Action = Callable[[AsyncConnection, SchemaState], Awaitable[str]]


async def _run(url: str, echo: Echo, action: Action) -> str:
    echo(f"Database: {display_url(url)}")
    _ensure_sqlite_dir(url)
    engine = create_engine(url, pool_size=2, max_overflow=0)
    try:
        async with migration_lock(engine, echo), engine.begin() as conn:
            state = await inspect_state(conn)
            echo(f"Found {state.describe()}")
            return await action(conn, state)
    except (OSError, DBAPIError) as exc:
        raise MigrationError(f"Cannot use the database {display_url(url)}: {_reason(exc)}") from exc
    finally:
        await engine.dispose()


def _refuse(state: SchemaState) -> MigrationError:
    if state.kind == "partial":
        return MigrationError(
            "Refusing to touch this database: it looks like an ai-chatbot database, but "
            + "; ".join(state.problems)
            + "."
        )
    return MigrationError(
        "Refusing to touch this database: it holds tables that are not the ai-chatbot schema ("
        + ", ".join(sorted(state.tables))
        + "). Point POSTGRES_URL at an empty database or at the Next.js app's database."
    )


async def upgrade(url: str, *, echo: Echo = _print) -> str:
    """Create the schema on an empty database, or apply pending revisions; returns the head."""

    async def action(conn: AsyncConnection, state: SchemaState) -> str:
        if state.kind == "legacy":
            raise MigrationError(
                "This database was created by the Next.js ai-chatbot app. Adopt it with "
                "`chatbot-api db adopt` (`chatbot-api serve` adopts it automatically)."
            )
        if state.kind in ("partial", "unknown"):
            raise _refuse(state)
        if state.kind == "empty":
            echo("Creating the schema")
        return await _apply(conn, state.revision, echo, stamp=False)

    return await _run(url, echo, action)


async def adopt(url: str, *, echo: Echo = _print) -> str:
    """Adopt a Next.js ai-chatbot database: verify, stamp the baseline, apply later revisions."""

    async def action(conn: AsyncConnection, state: SchemaState) -> str:
        if state.kind == "empty":
            raise MigrationError(
                "Nothing to adopt: the database is empty. Create the schema with "
                "`chatbot-api db upgrade`."
            )
        if state.kind in ("partial", "unknown"):
            raise _refuse(state)
        if state.kind == "managed":
            echo("Already adopted; applying any pending revisions")
            return await _apply(conn, state.revision, echo, stamp=False)
        echo("Every table and column the Next.js app uses is present and compatible")
        return await _apply(conn, None, echo, stamp=True)

    return await _run(url, echo, action)


async def migrate_on_startup(url: str, *, echo: Echo = _print) -> str:
    """What `serve` runs first: create, adopt or upgrade, whichever the database needs."""

    async def action(conn: AsyncConnection, state: SchemaState) -> str:
        if state.kind in ("partial", "unknown"):
            raise _refuse(state)
        if state.kind == "empty":
            echo("Creating the schema")
        if state.kind == "legacy":
            echo("Adopting it: the Next.js app keeps working on the same tables")
        return await _apply(conn, state.revision, echo, stamp=state.kind == "legacy")

    return await _run(url, echo, action)


async def current(url: str, *, echo: Echo = _print) -> SchemaState:
    """Report the database's state and revision without changing anything."""
    echo(f"Database: {display_url(url)}")
    if _sqlite_file_missing(url):
        return SchemaState("empty")
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return await inspect_state(conn)
    except (OSError, DBAPIError) as exc:
        raise MigrationError(f"Cannot use the database {display_url(url)}: {_reason(exc)}") from exc
    finally:
        await engine.dispose()


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    return not Path(database).exists()


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)


def _reason(exc: BaseException) -> str:
    """A one-line reason without driver class names or SQLAlchemy's background links."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if message.startswith("<class "):
        message = message.split(">: ", 1)[-1]
    return message
