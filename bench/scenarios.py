"""The scenarios that need more than one server at a time: the fake upstream's own ceiling,
seeding each revision's database, and SQL statements per request of each revision."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from bench import reads, turns
from bench.client import UPSTREAM_FIRST, one_shot
from bench.procs import Proc, self_cpu_seconds
from bench.reads import PgCounter
from bench.revisions import Revision
from bench.targets import Bench, Target, new_guest, ours_proc


async def fake_ceiling(fake: Proc, quick: bool) -> dict[str, Any]:
    """The fake upstream's own cost: full-speed 10,000-token streams and paced streams sent to
    it directly, its CPU per 1,000 tokens from /proc."""
    streams = 4 if quick else 20
    cpu0, me0, t0 = fake.cpu_seconds(), self_cpu_seconds(), time.monotonic()
    for _ in range(streams):
        await _direct(fake, "fake-n10000-r0", "fake full speed")
    wall = time.monotonic() - t0
    full_cpu = fake.cpu_seconds() - cpu0
    loadgen_full = self_cpu_seconds() - me0
    tokens = streams * 10_000
    k = 100 if quick else 500
    cpu0, me0, t0 = fake.cpu_seconds(), self_cpu_seconds(), time.monotonic()
    await asyncio.gather(*(_direct(fake, "fake-n300-r50", "fake paced") for _ in range(k)))
    paced_wall = time.monotonic() - t0
    paced_cpu = fake.cpu_seconds() - cpu0
    return {
        "full_speed_cpu_ms_per_1k": full_cpu * 1000 / (tokens / 1000),
        "full_speed_tokens_per_s_to_one_client": tokens / wall,
        "loadgen_full_speed_cpu_ms_per_1k": loadgen_full * 1000 / (tokens / 1000),
        "paced_k": k,
        "paced_cpu_pct": paced_cpu / paced_wall * 100,
        "paced_cpu_ms_per_1k": paced_cpu * 1000 / (k * 300 / 1000),
        "loadgen_paced_cpu_pct": (self_cpu_seconds() - me0) / paced_wall * 100,
        "paced_streams_per_core": k / (paced_cpu / paced_wall) if paced_cpu else float("inf"),
    }


async def _direct(fake: Proc, model: str, what: str) -> None:
    body = {"model": model, "messages": [], "stream": True}
    result = await one_shot(
        "127.0.0.1",
        fake.port,
        "POST",
        "/v1/chat/completions",
        body,
        marker=UPSTREAM_FIRST,
        keep_body=False,
    )
    turns.check(result, what)


async def _user_id(target: Target, index: int) -> str:
    token = await target.user_token(index)
    assert token is not None
    who = await one_shot(
        "127.0.0.1",
        target.port,
        "GET",
        "/api/auth/session",
        None,
        {"authorization": f"Bearer {token}"},
    )
    user_id: str = orjson.loads(who.body)["user"]["id"]
    return user_id


async def seed_existing_chats(bench: Bench, turns_n: int) -> dict[str, list[str]]:
    """For each instance of our service: `turns_n` chats of 20 messages, owned by user 0, in
    its revision's database."""
    out: dict[str, list[str]] = {}
    for target in bench.ours():
        assert target.rev is not None
        out[target.name] = await reads.seed_chats(
            target.rev.db_url,
            await _user_id(target, 0),
            turns_n,
            20,
            start=datetime(2025, 1, 1, tzinfo=UTC),
        )
    return out


async def seed_reading(bench: Bench, quick: bool) -> tuple[dict[str, reads.ReadPlan], float]:
    """One reading user per revision's database (its servers share it); seconds spent."""
    plans: dict[str, reads.ReadPlan] = {}
    by_rev: dict[str, reads.ReadPlan] = {}
    t0 = time.monotonic()
    for target in bench.ours():
        assert target.rev is not None
        plan = by_rev.get(target.rev.suffix)
        if plan is None:
            guest = await new_guest(target.port)
            plan = await reads.seed_reading(
                target.rev.db_url, guest["user"]["id"], guest["access_token"], quick
            )
            by_rev[target.rev.suffix] = plan
        plans[target.name] = plan
    return plans, time.monotonic() - t0


async def sql_counts(bench: Bench, rev: Revision, plan: reads.ReadPlan) -> dict[str, Any]:
    """A separate instance of the revision's service (no Redis) whose database connections
    go through the counting proxy."""
    counter = PgCounter()
    await counter.start()
    env = {
        **rev.env,
        "POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{counter.port}/{rev.db_name}",
    }
    proc = ours_proc(f"ours-sqlcount{rev.suffix}", env, rev, bench.results, None)
    try:
        await asyncio.to_thread(proc.start)
        guest = await new_guest(proc.port)
        token = guest["access_token"]
        chat_id = str(uuid.uuid4())

        def new_chat() -> bytes:
            return orjson.dumps(turns.turn_body("fake-n20-r0"))

        def same_chat() -> bytes:
            return orjson.dumps(turns.turn_body("fake-n20-r0", chat_id))

        requests: dict[str, Any] = {
            name: ("GET", path, None, plan.token) for name, path in plan.paths.items()
        }
        first = turns.turn_body("fake-n20-r0", chat_id)
        result = await one_shot(
            "127.0.0.1", proc.port, "POST", "/api/chat", first, {"authorization": f"Bearer {token}"}
        )
        turns.check(result, "sql seed turn")
        await asyncio.sleep(1.0)
        requests["POST /api/chat (new chat, whole turn)"] = ("POST", "/api/chat", new_chat, token)
        requests["POST /api/chat (existing chat, whole turn)"] = (
            "POST",
            "/api/chat",
            same_chat,
            token,
        )
        return await reads.count_statements(counter, proc.port, requests)
    finally:
        await asyncio.to_thread(proc.stop)
        await counter.stop()
