"""Runs every benchmark scenario in one go and writes docs/benchmarks.md (and the raw figures
to bench/results/). Use `bench/run` (it bootstraps first); `--quick` for a smoke run.

    bench/run [--quick] [--skip concurrency,reading] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import reads, report, turns
from bench.client import UPSTREAM_FIRST, one_shot
from bench.procs import Proc, self_cpu_seconds
from bench.reads import PgCounter
from bench.targets import ROOT, Bench, new_guest, ours_proc, start, teardown

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

LADDER = [20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140, 160, 200, 250, 300, 400]
SCENARIOS = ("ceiling", "memory", "cost", "ttft", "concurrency", "reading", "sql")


async def fake_ceiling(fake: Proc, quick: bool) -> dict[str, Any]:
    """The fake upstream's own cost: full-speed 10,000-token streams and paced streams sent to
    it directly, its CPU per 1,000 tokens from /proc."""
    streams = 4 if quick else 20
    cpu0, me0, t0 = fake.cpu_seconds(), self_cpu_seconds(), time.monotonic()
    for _ in range(streams):
        body = {"model": "fake-n10000-r0", "messages": [], "stream": True}
        result = await one_shot(
            "127.0.0.1",
            fake.port,
            "POST",
            "/v1/chat/completions",
            body,
            marker=UPSTREAM_FIRST,
            keep_body=False,
        )
        turns.check(result, "fake full speed")
    wall = time.monotonic() - t0
    full_cpu = fake.cpu_seconds() - cpu0
    loadgen_full = self_cpu_seconds() - me0
    tokens = streams * 10_000
    k = 100 if quick else 500
    cpu0, me0, t0 = fake.cpu_seconds(), self_cpu_seconds(), time.monotonic()

    async def paced() -> None:
        body = {"model": "fake-n300-r50", "messages": [], "stream": True}
        result = await one_shot(
            "127.0.0.1",
            fake.port,
            "POST",
            "/v1/chat/completions",
            body,
            marker=UPSTREAM_FIRST,
            keep_body=False,
        )
        turns.check(result, "fake paced")

    await asyncio.gather(*(paced() for _ in range(k)))
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


async def seed_existing_chats(bench: Bench, turns_n: int) -> dict[str, list[str]]:
    """For each instance of our service: `turns_n` chats of 20 messages, owned by user 0."""
    out: dict[str, list[str]] = {}
    for target in bench.ours():
        token = await target.user_token(0)
        assert token is not None
        who = await one_shot(
            "127.0.0.1",
            target.port,
            "GET",
            "/api/auth/session",
            None,
            {"authorization": f"Bearer {token}"},
        )
        user_id = orjson.loads(who.body)["user"]["id"]
        out[target.name] = await reads.seed_chats(
            bench.db_url, user_id, turns_n, 20, start=datetime(2025, 1, 1, tzinfo=UTC)
        )
    return out


async def sql_counts(bench: Bench, plan: reads.ReadPlan) -> dict[str, Any]:
    """A separate instance of our service (no Redis) whose database connections go through
    the counting proxy."""
    counter = PgCounter()
    await counter.start()
    env = {
        **bench.ours_env,
        "POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{counter.port}/{bench.db_name}",
    }
    proc = ours_proc("ours-sqlcount", env, bench.results, None)
    await asyncio.to_thread(proc.start)
    try:
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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    quick: bool = args.quick
    skip = set(filter(None, args.skip.split(",")))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results = ROOT / "bench" / "results" / stamp
    data: dict[str, Any] = {"quick": quick, "started": stamp, "machine": report.machine()}
    data["load_start"] = os.getloadavg()
    started = time.monotonic()
    bench = await start(results, redis=not args.no_redis)
    data["targets"] = {t.name: t.label for t in bench.targets}
    streaming = bench.targets

    def note(what: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {what}", flush=True)

    try:
        if "ceiling" not in skip:
            note("fake upstream ceiling")
            data["ceiling"] = await fake_ceiling(bench.fake, quick)
        if "memory" not in skip:
            note("memory: idle RSS and growth per active stream")
            data["memory"] = await turns.memory(streaming, bench.fake, 30 if quick else 100)
        if "cost" not in skip:
            note("cost per token")
            data["cost"] = await turns.cost_per_token(streaming, bench.fake, 2 if quick else 7)
        if "ttft" not in skip:
            n = 10 if quick else 50
            note("added time to first token: new chats")
            data["ttft_new"] = await turns.added_ttft(streaming, bench.fake, n, None, None)
            note("added time to first token: existing chats of 20 messages")
            existing = await seed_existing_chats(bench, n)
            history = turns.history_messages(20)
            data["ttft_existing"] = await turns.added_ttft(
                streaming, bench.fake, n, existing, history, order_seed=1
            )
        if "concurrency" not in skip:
            note("concurrency")
            ladder = [10, 25, 50] if quick else LADDER
            if args.ladder:
                ladder = [int(k) for k in args.ladder.split(",")]
            data["concurrency"] = await turns.concurrency(streaming, bench.fake, ladder)
        plan = None
        if "reading" not in skip or "sql" not in skip:
            note("reading: seeding")
            ours = bench.ours()[0]
            guest = await new_guest(ours.port)
            t0 = time.monotonic()
            plan = await reads.seed_reading(
                bench.db_url, guest["user"]["id"], guest["access_token"], quick
            )
            data["seed_s"] = time.monotonic() - t0
        if "reading" not in skip and plan is not None:
            note("reading: latency")
            counts = {1: 40, 16: 160} if quick else {1: 200, 16: 800}
            data["reading"] = await reads.reading(bench.ours(), plan, counts)
        if "sql" not in skip and plan is not None:
            note("SQL statements per request")
            data["sql"] = await sql_counts(bench, plan)
    finally:
        note("stopping servers, dropping the bench database")
        await teardown(bench)
    data["duration_s"] = time.monotonic() - started
    data["load_end"] = os.getloadavg()
    (results / "results.json").write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (minutes, not tens)")
    parser.add_argument("--skip", default="", help=f"comma-separated, of {','.join(SCENARIOS)}")
    parser.add_argument("--ladder", default="", help="concurrency K values, e.g. 20,40,60")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis variant")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--from-json", help="only re-render the report from a results.json")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
    else:
        runner = uvloop.run if uvloop is not None else asyncio.run
        data = runner(run(args))
    args.quick = args.quick or bool(data.get("quick"))
    Path(args.out).write_text(report.render(data, " ".join(_argv_for_report(args))))
    print(f"wrote {args.out}")


def _argv_for_report(args: argparse.Namespace) -> list[str]:
    argv = ["bench/run"]
    if args.quick:
        argv.append("--quick")
    if args.skip:
        argv += ["--skip", args.skip]
    if args.no_redis:
        argv.append("--no-redis")
    return argv


if __name__ == "__main__":
    main()
