"""Reading scenarios: bulk-seeded data (COPY via asyncpg, not the API), `GET /api/history`
first and deep pages, `GET /api/chat/{id}` of a 1,000-message chat, at 1 and 16 clients; and
SQL statements per request, counted by a PostgreSQL wire-protocol proxy."""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from bench.client import Connection
from bench.targets import Target
from bench.turns import _filler, pct, summary

HOST = "127.0.0.1"


def _naive(ts: datetime) -> datetime:
    return ts.replace(tzinfo=None)


def _parts(role: str, seed: int) -> str:
    if role == "user":
        return orjson.dumps([{"type": "text", "text": _filler(seed, 120)}]).decode()
    return orjson.dumps(
        [{"type": "step-start"}, {"type": "text", "text": _filler(seed, 600), "state": "done"}]
    ).decode()


async def seed_chats(
    db_url: str, user_id: str, chats: int, messages_per_chat: int, *, start: datetime
) -> list[str]:
    """`chats` chats of `messages_per_chat` messages for the user; ids newest first."""
    conn = await asyncpg.connect(db_url)
    try:
        chat_rows = []
        message_rows = []
        uid = uuid.UUID(user_id)
        for c in range(chats):
            chat_id = uuid.uuid4()
            created = start + timedelta(seconds=c * 60)
            chat_rows.append((chat_id, _naive(created), f"Bench chat {c}", uid, "private"))
            for m in range(messages_per_chat):
                role = "user" if m % 2 == 0 else "assistant"
                message_rows.append(
                    (
                        uuid.uuid4(),
                        chat_id,
                        role,
                        _parts(role, m),
                        "[]",
                        _naive(created + timedelta(milliseconds=m * 10)),
                    )
                )
        await conn.copy_records_to_table(
            "Chat", records=chat_rows, columns=["id", "createdAt", "title", "userId", "visibility"]
        )
        await conn.copy_records_to_table(
            "Message_v2",
            records=message_rows,
            columns=["id", "chatId", "role", "parts", "attachments", "createdAt"],
        )
        # VACUUM too: a steady state (visibility map set), and no autovacuum of the fresh rows
        # running while latencies are measured.
        for table in ("Chat", "Message_v2", "SentMessage"):
            await conn.execute(f'VACUUM (ANALYZE) "{table}"')
    finally:
        await conn.close()
    return [str(row[0]) for row in reversed(chat_rows)]


@dataclass
class ReadPlan:
    token: str
    paths: dict[str, str]  # scenario name → path


async def seed_reading(db_url: str, user_id: str, token: str, quick: bool) -> ReadPlan:
    """A user with 10,000 chats / 100,000 messages (quick: 1,000 / 10,000) and one more chat
    of 1,000 messages (older than the rest)."""
    chats = 1_000 if quick else 10_000
    now = datetime.now(UTC)
    big = await seed_chats(db_url, user_id, 1, 1_000, start=now - timedelta(days=30))
    ids = await seed_chats(db_url, user_id, chats, 10, start=now - timedelta(days=20))
    deep = chats // 2
    return ReadPlan(
        token,
        {
            "history first page": "/api/history?limit=20",
            f"history page {deep:,} chats deep": f"/api/history?ending_before={ids[deep - 1]}"
            "&limit=20",
            "chat of 1,000 messages": f"/api/chat/{big[0]}",
        },
    )


async def _run_block(port: int, token: str, path: str, clients: int, n: int) -> list[float]:
    headers = {"authorization": f"Bearer {token}"}
    latencies: list[float] = []
    per_client = max(1, n // clients)

    async def client() -> None:
        conn = Connection(HOST, port)
        try:
            for _ in range(per_client):
                result = await conn.request("GET", path, None, headers)
                if result.error or result.status != 200:
                    raise RuntimeError(f"GET {path}: {result.status} {result.error}")
                latencies.append(result.duration * 1000)
        finally:
            await conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def reading(
    targets: list[Target], plans: dict[str, ReadPlan], requests: dict[int, int], blocks: int = 4
) -> dict[str, Any]:
    """Latency per endpoint, per client count, per target (each with the plan seeded in its
    own database); endpoints and targets interleaved block by block (so that background work
    on the machine falls on all of them alike). Server and PostgreSQL CPU per request are
    read around each block."""
    out: dict[str, Any] = {}
    names = list(plans[targets[0].name].paths)
    for target in targets:  # warm-up
        plan = plans[target.name]
        for path in plan.paths.values():
            await _run_block(target.port, plan.token, path, 1, 5)
    for clients, n in requests.items():
        lat: dict[tuple[str, str], list[float]] = {(e, t.name): [] for e in names for t in targets}
        cpu: dict[tuple[str, str], list[float]] = {
            (e, t.name): [0.0, 0.0] for e in names for t in targets
        }
        for _ in range(blocks):
            for endpoint in names:
                for target in targets:
                    plan = plans[target.name]
                    u0 = target.usage()
                    lat[endpoint, target.name] += await _run_block(
                        target.port, plan.token, plan.paths[endpoint], clients, n // blocks
                    )
                    u1 = target.usage()
                    spent = cpu[endpoint, target.name]
                    spent[0] += u1.server - u0.server
                    spent[1] += (u1.pg or 0.0) - (u0.pg or 0.0)
        for endpoint in names:
            for target in targets:
                values = lat[endpoint, target.name]
                row = summary(values)
                row["p50"] = row["median"]
                row["p90"] = pct(values, 90)
                row["slow"] = sum(1 for v in values if v > 3 * row["median"])
                server_s, pg_s = cpu[endpoint, target.name]
                row["server_ms_per_request"] = server_s * 1000 / len(values)
                if target.meter is not None and target.meter.available:
                    row["pg_ms_per_request"] = pg_s * 1000 / len(values)
                out.setdefault(endpoint, {}).setdefault(target.name, {})[str(clients)] = row
    return out


# --- SQL statements per request --------------------------------------------------------------
@dataclass
class PgCounter:
    """Forwards PostgreSQL connections and records every statement the client executes:
    simple queries (`Q`) and extended-protocol `Execute`s (`E`, resolved through Bind and
    Parse to their SQL text)."""

    upstream: tuple[str, int] = ("127.0.0.1", 5432)
    statements: list[tuple[float, str]] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        back = asyncio.create_task(_pipe(up_reader, writer))
        try:
            await self._frontend(reader, up_writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            up_writer.close()
            back.cancel()
            writer.close()

    async def _frontend(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        while True:  # startup phase: SSLRequest / GSSENCRequest / StartupMessage (untyped)
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            up.write(head + rest)
            if code not in (80877103, 80877104):
                break
        statements: dict[bytes, str] = {}
        portals: dict[bytes, str] = {}
        while True:
            head = await reader.readexactly(5)
            kind, length = head[:1], struct.unpack("!i", head[1:])[0]
            payload = await reader.readexactly(length - 4)
            up.write(head + payload)
            if kind == b"Q":
                self.statements.append((time.monotonic(), payload[:-1].decode(errors="replace")))
            elif kind == b"P":
                name, rest = payload.split(b"\0", 1)
                statements[name] = rest.split(b"\0", 1)[0].decode(errors="replace")
            elif kind == b"B":
                portal, statement, _ = payload.split(b"\0", 2)
                portals[portal] = statements.get(statement, "?")
            elif kind == b"E":
                portal = payload.split(b"\0", 1)[0]
                self.statements.append((time.monotonic(), portals.get(portal, "?")))
            elif kind == b"X":
                return


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", ";", "SELECT 1")


def classify(texts: list[str]) -> dict[str, Any]:
    data = [t for t in texts if t.strip().upper().rstrip(";") not in TRANSACTION and t.strip()]
    return {
        "total": len(texts),
        "data_statements": len(data),
        "statements": [" ".join(t.split())[:160] for t in texts],
    }


async def count_statements(
    counter: PgCounter,
    port: int,
    requests: dict[str, tuple[str, str, Callable[[], bytes] | None, str]],
) -> dict[str, Any]:
    """Each request three times in a row; the last (warm) one's statements are reported."""
    out: dict[str, Any] = {}
    for name, (method, path, make_body, token) in requests.items():
        texts: list[str] = []
        for _ in range(3):
            conn = Connection(HOST, port)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            mark = len(counter.statements)
            body = make_body() if make_body is not None else None
            result = await conn.request(method, path, body, headers)
            await conn.close()
            await asyncio.sleep(1.0 if method == "POST" else 0.2)  # background saves
            if result.error or result.status != 200:
                raise RuntimeError(f"{name}: {result.status} {result.error} {result.body[:200]!r}")
            texts = [text for _, text in counter.statements[mark:]]
        out[name] = classify(texts)
    return out
