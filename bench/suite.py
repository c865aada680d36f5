"""Runs every benchmark scenario in one go and writes docs/benchmarks.md (and the raw figures
to bench/results/). Use `bench/run` (it bootstraps first); `--quick` for a smoke run;
`--baseline <git-ref>` to measure that revision's server beside the current tree's.

    bench/run [--quick] [--skip concurrency,reading] [--baseline main] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import machine, report, revisions, scenarios, turns
from bench import reads as reading
from bench.revisions import ROOT
from bench.targets import Bench, start

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

LADDER = [20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140, 160, 200, 250, 300, 400]
# Memory per stream is compared at a K every server carries on time (Node's ladder passes
# 80 in full runs): a K one of them fails measures that server's backlog, not its streams.
MEMORY_K = {False: 50, True: 20}
SCENARIOS = ("ceiling", "memory", "cost", "ttft", "concurrency", "reading", "sql")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Starts everything, runs the scenarios, and (whatever happens) undoes the start."""
    task = asyncio.current_task()
    assert task is not None
    for name in ("POSTGRES_URL", "DATABASE_URL", "REDIS_URL", "KV_URL"):
        os.environ.pop(name, None)  # the servers get exactly the database and Redis given
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results = ROOT / "bench" / "results" / stamp
    data: dict[str, Any] = {"quick": args.quick, "started": stamp, "machine": machine.machine()}
    data["load_start"] = os.getloadavg()
    started = time.monotonic()

    def note(what: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {what}", flush=True)

    async with AsyncExitStack() as stack:
        revs = [revisions.current()]
        if args.baseline:
            results.mkdir(parents=True, exist_ok=True)
            revs.append(await revisions.baseline(args.baseline, results, stack))
        bench = await start(
            results, stack, revs, redis=not args.no_redis, redis_url=args.redis_url or None
        )
        stack.callback(note, "stopping servers, dropping the bench databases")
        _describe(data, bench)
        await scenarios_of(bench, args, data, note)
        data["pg_backends"] = bench.meter.summary()
    note("cleaned up")
    data["duration_s"] = time.monotonic() - started
    data["load_end"] = os.getloadavg()
    (results / "results.json").write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    return data


def _describe(data: dict[str, Any], bench: Bench) -> None:
    """What was measured: the servers, the baseline pairs, how PostgreSQL/Redis CPU was read."""
    data["targets"] = {t.name: t.label for t in bench.targets}
    base = next((r for r in bench.revisions if r.is_baseline), None)
    if base is not None:
        data["baseline"] = {
            "ref": base.ref,
            "commit": base.commit,
            "pairs": {
                t.name.removesuffix(base.suffix): t.name for t in bench.targets if t.is_baseline
            },
        }
    data["pg_cpu"] = bench.meter.available
    data["redis_cpu"] = "shared" if bench.redis_url else "own"


async def scenarios_of(
    bench: Bench, args: argparse.Namespace, data: dict[str, Any], note: Any
) -> None:
    quick: bool = args.quick
    skip = set(filter(None, args.skip.split(",")))
    streaming = bench.targets
    if "ceiling" not in skip:
        note("fake upstream ceiling")
        data["ceiling"] = await scenarios.fake_ceiling(bench.fake, quick)
    if "memory" not in skip:
        note(f"memory: idle RSS and growth per active stream (K = {MEMORY_K[quick]})")
        data["memory"] = await turns.memory(streaming, bench.fake, MEMORY_K[quick])
    if "cost" not in skip:
        note("cost per token")
        data["cost"] = await turns.cost_per_token(streaming, bench.fake, 2 if quick else 7)
    if "ttft" not in skip:
        n = 10 if quick else 50
        note("added time to first token: new chats")
        data["ttft_new"] = await turns.added_ttft(streaming, bench.fake, n, None, None)
        note("added time to first token: existing chats of 20 messages")
        existing = await scenarios.seed_existing_chats(bench, n)
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
    if "reading" in skip and "sql" in skip:
        return
    note("reading: seeding")
    plans, data["seed_s"] = await scenarios.seed_reading(bench, quick)
    if "reading" not in skip:
        note("reading: latency")
        counts = {1: 40, 16: 160} if quick else {1: 200, 16: 800}
        data["reading"] = await reading.reading(bench.ours(), plans, counts)
    if "sql" not in skip:
        for rev in bench.revisions:
            note(f"SQL statements per request{f' ({rev.ref})' if rev.is_baseline else ''}")
            plan = next(plans[t.name] for t in bench.ours() if t.rev is rev)
            key = "sql_baseline" if rev.is_baseline else "sql"
            data[key] = await scenarios.sql_counts(bench, rev, plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (minutes, not tens)")
    parser.add_argument("--skip", default="", help=f"comma-separated, of {','.join(SCENARIOS)}")
    parser.add_argument("--ladder", default="", help="concurrency K values, e.g. 20,40,60")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis variant")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="a Redis to share (env BENCH_REDIS_URL); default: a redis-server of the run's "
        "own per Redis target, whose CPU is then measured",
    )
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        default="",
        help="also run the server targets built from this revision, and compare",
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--from-json", help="only re-render the report from a results.json")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
    else:
        runner = uvloop.run if uvloop is not None else asyncio.run
        try:
            data = runner(run(args))
        except (KeyboardInterrupt, asyncio.CancelledError):
            print("interrupted: servers stopped, databases dropped, worktree removed")
            sys.exit(130)
    args.quick = args.quick or bool(data.get("quick"))
    args.baseline = args.baseline or data.get("baseline", {}).get("ref", "")
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
    if args.baseline:
        argv += ["--baseline", args.baseline]
    return argv


if __name__ == "__main__":
    main()
