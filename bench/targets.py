"""The servers a run measures: the fake upstream, the Node AI SDK baseline, the bare Python relay
and chatbot-api itself (PostgreSQL; with and without Redis), plus the bench database."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.client import one_shot
from bench.procs import Proc, free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FAKE_MODELS = ("fake-n8-r0", "fake-n20-r0", "fake-n300-r50", "fake-n10000-r0")
TITLE_MODEL = "fake-n8-r0"
SERVER_CPU = "0"  # servers under test get core 0; fake upstream + load generator core 1
CLIENT_CPU = "1"


@dataclass
class Target:
    """A chat server under test. `kind`: node | relay | ours."""

    name: str
    label: str
    kind: str
    proc: Proc
    users: list[str] = field(default_factory=list)  # bearer tokens (ours only)

    @property
    def port(self) -> int:
        return self.proc.port

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
    """Everything started for one run (stopped by `stop`)."""

    results: Path
    fake: Proc
    targets: list[Target]
    db_name: str
    db_url: str
    redis_prefix: str
    ours_env: dict[str, str]

    def by_name(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)

    def ours(self) -> list[Target]:
        return [t for t in self.targets if t.kind == "ours"]

    def stop(self) -> None:
        for target in self.targets:
            target.proc.stop()
        self.fake.stop()


async def create_database(name: str) -> str:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def flush_redis(prefix: str) -> None:
    """Delete the run's keys (only those under its unique prefix)."""
    script = "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1"
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "EVAL", script, "0", prefix + "*"],
        check=False,
        capture_output=True,
    )


def ours_env(results: Path, db_url: str, fake_port: int) -> dict[str, str]:
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
        "POSTGRES_URL": db_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "600",
        "GUEST_MAX_MESSAGES_PER_DAY": big,
        "REGULAR_MAX_MESSAGES_PER_DAY": big,
        "AUTH_GUEST_PER_IP": big,
        "AUTH_REGISTER_PER_IP": big,
        "OPENAI_COMPATIBLE_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "CHAT_MODELS_FILE": str(models),
        "TITLE_MODEL": TITLE_MODEL,
        "DATA_DIR": str(results / "data"),
    }


def ours_proc(name: str, env: dict[str, str], results: Path, cpu: str | None) -> Proc:
    port = free_port()
    return Proc(
        name=name,
        argv=[str(VENV / "chatbot-api"), "serve", "--no-migrate", "--port", str(port)],
        port=port,
        env=env,
        cpu=cpu,
        cwd=ROOT,
        log_path=results / f"{name}.log",
    )


async def start(results: Path, *, redis: bool = True) -> Bench:
    await asyncio.to_thread(results.mkdir, parents=True, exist_ok=True)
    fake = Proc(
        name="fake-upstream",
        argv=[str(VENV / "python"), "-m", "bench.fake_upstream", "--port", str(free_port())],
        port=0,
        cpu=CLIENT_CPU,
        cwd=ROOT,
        log_path=results / "fake-upstream.log",
    )
    fake.port = int(fake.argv[-1])
    fake.start()
    upstream = f"http://127.0.0.1:{fake.port}/v1"

    db_name = f"bench_{uuid.uuid4().hex[:10]}"
    db_url = await create_database(db_name)
    env = ours_env(results, db_url, fake.port)
    migrate = await asyncio.to_thread(
        subprocess.run,
        [str(VENV / "chatbot-api"), "db", "upgrade"],
        env={**_base_env(), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"db upgrade failed: {migrate.stderr[-2000:]}")
    redis_prefix = f"bench-{uuid.uuid4().hex[:10]}:"

    node_port = free_port()
    relay_port = free_port()
    targets = [
        Target(
            "node",
            "Node AI SDK pipeline (ai 6.0.37)",
            "node",
            Proc(
                name="node",
                argv=["node", "server.mjs"],
                port=node_port,
                env={"PORT": str(node_port), "UPSTREAM_URL": upstream, "NODE_ENV": "production"},
                cpu=SERVER_CPU,
                cwd=ROOT / "bench" / "node",
                log_path=results / "node.log",
            ),
        ),
        Target(
            "relay",
            "bare Python relay",
            "relay",
            Proc(
                name="relay",
                argv=[
                    str(VENV / "python"),
                    "-m",
                    "bench.relay",
                    "--port",
                    str(relay_port),
                    "--upstream",
                    upstream,
                ],
                port=relay_port,
                cpu=SERVER_CPU,
                cwd=ROOT,
                log_path=results / "relay.log",
            ),
        ),
        Target(
            "ours-pg",
            "chatbot-api, PostgreSQL",
            "ours",
            ours_proc("ours-pg", env, results, SERVER_CPU),
        ),
    ]
    if redis:
        redis_env = {
            **env,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_KEY_PREFIX": redis_prefix,
        }
        targets.append(
            Target(
                "ours-redis",
                "chatbot-api, PostgreSQL + Redis",
                "ours",
                ours_proc("ours-redis", redis_env, results, SERVER_CPU),
            )
        )
    bench = Bench(results, fake, targets, db_name, db_url, redis_prefix, env)
    try:
        for target in targets:
            target.proc.start()
    except Exception:
        bench.stop()
        raise
    return bench


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


async def teardown(bench: Bench) -> None:
    bench.stop()
    await asyncio.sleep(0.5)
    await drop_database(bench.db_name)
    flush_redis(bench.redis_prefix)
