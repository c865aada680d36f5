"""The servers a run measures: the fake upstream, the Node AI SDK baseline, the bare Python relay
and chatbot-api itself (PostgreSQL; with and without Redis) for each revision, plus what they
need: a freshly migrated database per revision, and Redis (by default a `redis-server` of the
run's own per Redis target, so its CPU is that target's alone; `--redis-url` to share one).

Everything started is registered on the run's exit stack, which stops, drops and deletes it
again in reverse order, also when the run fails or is interrupted.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from bench.client import one_shot
from bench.meters import PgMeter
from bench.procs import Proc, redis_ready
from bench.revisions import ROOT, Revision, command

VENV = ROOT / ".venv" / "bin"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FAKE_MODELS = ("fake-n8-r0", "fake-n20-r0", "fake-n300-r50", "fake-n10000-r0")
TITLE_MODEL = "fake-n8-r0"
SERVER_CPU = "0"  # servers under test get core 0; fake upstream + load generator core 1
CLIENT_CPU = "1"


@dataclass
class Usage:
    """CPU seconds so far: the server's own, and (ours only) its PostgreSQL backends' and its
    own redis-server's (None where not measured)."""

    server: float
    pg: float | None = None
    redis: float | None = None


@dataclass
class Target:
    """A chat server under test. `kind`: node | relay | ours."""

    name: str
    label: str
    kind: str
    proc: Proc
    rev: Revision | None = None
    meter: PgMeter | None = None
    redis: Proc | None = None  # its own redis-server, if the run started one for it
    users: list[str] = field(default_factory=list)  # bearer tokens (ours only)

    @property
    def port(self) -> int:
        return self.proc.port

    @property
    def is_baseline(self) -> bool:
        return self.rev is not None and self.rev.is_baseline

    def usage(self) -> Usage:
        pg = self.meter.cpu(self.name) if self.meter is not None else None
        redis = self.redis.cpu_seconds() if self.redis is not None else None
        return Usage(self.proc.cpu_seconds(), pg, redis)

    async def user_token(self, index: int) -> str | None:
        """The index-th bench user's bearer token, created on demand (ours only)."""
        if self.kind != "ours":
            return None
        while len(self.users) <= index:
            self.users.append((await new_guest(self.port))["access_token"])
        return self.users[index]


async def new_guest(port: int) -> dict[str, Any]:
    result = await one_shot("127.0.0.1", port, "POST", "/api/auth/guest", b"{}")
    if result.status not in (200, 201):
        raise RuntimeError(f"guest sign-in failed: {result.status} {result.body[:200]!r}")
    data: dict[str, Any] = json.loads(result.body)
    return data


@dataclass
class Bench:
    """Everything started for one run (stopped by the run's exit stack)."""

    results: Path
    fake: Proc
    targets: list[Target]
    revisions: list[Revision]
    meter: PgMeter
    redis_url: str | None  # a shared Redis given by --redis-url, else None

    def ours(self) -> list[Target]:
        return [t for t in self.targets if t.kind == "ours"]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def prepare(rev: Revision, results: Path, stack: AsyncExitStack, fake_port: int) -> None:
    """The revision's database (fresh, migrated by its own `chatbot-api`), Redis key prefix and
    server environment."""
    rev.db_name = f"bench_{uuid.uuid4().hex[:10]}{'_base' if rev.is_baseline else ''}"
    rev.db_url = f"postgresql://postgres@127.0.0.1:5432/{rev.db_name}"
    rev.redis_prefix = f"bench-{uuid.uuid4().hex[:10]}{'-base' if rev.is_baseline else ''}:"
    rev.env = ours_env(rev, results, fake_port)
    drop = f'DROP DATABASE IF EXISTS "{rev.db_name}" WITH (FORCE)'
    stack.push_async_callback(_quietly, _admin, drop)
    await _admin(f'CREATE DATABASE "{rev.db_name}"')
    env = {**os.environ, **rev.env}
    log = results / f"migrate{'-' + rev.slug if rev.slug else ''}.log"
    try:
        out = await command([str(rev.bin / "chatbot-api"), "db", "upgrade"], rev.root, env)
    except RuntimeError as exc:
        raise RuntimeError(f"db upgrade ({rev.ref}): {exc}") from None
    log.write_text(out)


async def _quietly(step: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Cleanup goes on past one failing step (it says which)."""
    try:
        await step(*args)
    except Exception as exc:
        print(f"cleanup: {type(exc).__name__}: {exc}", flush=True)


async def flush_redis(url: str, prefix: str) -> None:
    """Delete the run's keys on a shared Redis (only those under its unique prefix)."""
    client = aioredis.Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=prefix.replace("*", r"\*") + "*", count=1000):
            await client.unlink(key)
    finally:
        await client.aclose()


def ours_env(rev: Revision, results: Path, fake_port: int) -> dict[str, str]:
    models = results / "models.json"
    models.write_text(
        json.dumps(
            {
                "models": [
                    {"id": m, "backend": "openai-compatible", "upstreamModel": m}
                    for m in FAKE_MODELS
                ]
            }
        )
    )
    big = str(10**9)
    return {
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "INFO",
        "POSTGRES_URL": rev.db_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "600",
        "GUEST_MAX_MESSAGES_PER_DAY": big,
        "REGULAR_MAX_MESSAGES_PER_DAY": big,
        "AUTH_GUEST_PER_IP": big,
        "AUTH_REGISTER_PER_IP": big,
        "OPENAI_COMPATIBLE_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "OPENAI_COMPATIBLE_DISCOVERY": "false",  # the fake's models are the file's
        "CHAT_MODELS_FILE": str(models),
        "TITLE_MODEL": TITLE_MODEL,
        "DATA_DIR": str(results / f"data{'-' + rev.slug if rev.slug else ''}"),
    }


def log_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + ".log"


def ours_proc(
    name: str, env: dict[str, str], rev: Revision, results: Path, cpu: str | None
) -> Proc:
    return Proc(
        name=name,
        argv=[str(rev.bin / "chatbot-api"), "serve", "--no-migrate", "--port", "{port}"],
        env=env,
        cpu=cpu,
        cwd=rev.root,
        log_path=results / log_name(name),
    )


def _redis_server(name: str, results: Path) -> Proc:
    """A throwaway redis-server: loopback only, no persistence."""
    return Proc(
        name=f"redis-{name}",
        argv=[
            "redis-server",
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(results),
        ],
        log_path=results / log_name(f"redis-{name}"),
        ready=redis_ready,
    )


def baselines(results: Path, upstream: str) -> list[Target]:
    node = Proc(
        name="node",
        argv=["node", "server.mjs"],
        env={"PORT": "{port}", "UPSTREAM_URL": upstream, "NODE_ENV": "production"},
        cpu=SERVER_CPU,
        cwd=ROOT / "bench" / "node",
        log_path=results / "node.log",
    )
    relay = Proc(
        name="relay",
        argv=[
            str(VENV / "python"),
            "-m",
            "bench.relay",
            "--port",
            "{port}",
            "--upstream",
            upstream,
        ],
        cpu=SERVER_CPU,
        cwd=ROOT,
        log_path=results / "relay.log",
    )
    return [
        Target("node", "Node AI SDK pipeline (ai 6.0.37)", "node", node),
        Target("relay", "bare Python relay", "relay", relay),
    ]


def ours_targets(
    rev: Revision, results: Path, meter: PgMeter, *, redis: bool, redis_url: str | None
) -> list[Target]:
    """`ours-pg` and (with Redis) `ours-redis` of one revision, names ending in its suffix."""
    what = "chatbot-api" if not rev.is_baseline else f"chatbot-api at {rev.ref} ({rev.commit[:7]})"
    name = f"ours-pg{rev.suffix}"
    proc = ours_proc(name, rev.env, rev, results, SERVER_CPU)
    targets = [Target(name, f"{what}, PostgreSQL", "ours", proc, rev, meter)]
    if redis:
        name = f"ours-redis{rev.suffix}"
        own = None if redis_url else _redis_server(name, results)
        env = {**rev.env, "REDIS_URL": redis_url or "redis://127.0.0.1:{redis_port}/0"}
        env["REDIS_KEY_PREFIX"] = rev.redis_prefix
        proc = ours_proc(name, env, rev, results, SERVER_CPU)
        targets.append(Target(name, f"{what}, PostgreSQL + Redis", "ours", proc, rev, meter, own))
    return targets


async def start(
    results: Path,
    stack: AsyncExitStack,
    revisions: list[Revision],
    *,
    redis: bool = True,
    redis_url: str | None = None,
) -> Bench:
    """Starts everything for a run; `stack` undoes it."""
    if redis and not redis_url and shutil.which("redis-server") is None:
        raise SystemExit(
            "redis-server is not on the PATH: install it, or --redis-url, or --no-redis"
        )
    await asyncio.to_thread(results.mkdir, parents=True, exist_ok=True)
    fake = Proc(
        name="fake-upstream",
        argv=[str(VENV / "python"), "-m", "bench.fake_upstream", "--port", "{port}"],
        cpu=CLIENT_CPU,
        cwd=ROOT,
        log_path=results / "fake-upstream.log",
    )
    stack.callback(fake.stop)
    await asyncio.to_thread(fake.start)
    targets = baselines(results, f"http://127.0.0.1:{fake.port}/v1")
    meter = await PgMeter.connect(
        PG_ADMIN, lambda: {t.name: t.proc.pids for t in targets if t.kind == "ours"}
    )
    for rev in revisions:
        await prepare(rev, results, stack, fake.port)
        meter.databases.add(rev.db_name)
        if redis_url:
            stack.push_async_callback(_quietly, flush_redis, redis_url, rev.redis_prefix)
        targets += ours_targets(rev, results, meter, redis=redis, redis_url=redis_url)
    for target in targets:
        if target.redis is not None:
            stack.callback(target.redis.stop)
            await asyncio.to_thread(target.redis.start)
            url = target.proc.env["REDIS_URL"].replace("{redis_port}", str(target.redis.port))
            target.proc.env["REDIS_URL"] = url
        stack.callback(target.proc.stop)
        await asyncio.to_thread(target.proc.start)
    meter.start()
    stack.push_async_callback(meter.stop)
    return Bench(results, fake, targets, revisions, meter, redis_url)
