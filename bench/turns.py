"""Chat-turn requests as each server gets them, and the scenarios that stream: cost per token,
added time to first token, concurrency and memory per active stream."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
import uuid
from typing import Any

import orjson

from bench.client import TEXT_DELTA, UPSTREAM_FIRST, Result, one_shot
from bench.procs import Proc, self_cpu_seconds
from bench.targets import Target, Usage

HOST = "127.0.0.1"
USER_TEXT = "Tell me something about streaming servers, briefly please."


def ui_message(role: str, text: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if role == "assistant":
        parts = [{"type": "step-start"}, {"type": "text", "text": text, "state": "done"}]
    return {"id": str(uuid.uuid4()), "role": role, "parts": parts}


def turn_body(
    model: str, chat_id: str | None = None, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """ai-chatbot's body: `message` for our service (it loads the chat's history itself);
    the DB-less baselines get the history in `messages`, as the AI SDK default body."""
    message = ui_message("user", USER_TEXT)
    body: dict[str, Any] = {
        "id": chat_id or str(uuid.uuid4()),
        "selectedChatModel": model,
        "selectedVisibilityType": "private",
    }
    if history is not None:
        body["messages"] = [*history, message]
    else:
        body["message"] = message
    return body


async def send_turn(
    target: Target,
    model: str,
    *,
    user: int = 0,
    chat_id: str | None = None,
    history: list[dict[str, Any]] | None = None,
) -> Result:
    token = await target.user_token(user)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = turn_body(model, chat_id, None if target.kind == "ours" else history)
    return await one_shot(
        HOST, target.port, "POST", "/api/chat", body, headers, marker=TEXT_DELTA, keep_body=False
    )


async def send_direct(fake: Proc, model: str, history: list[dict[str, Any]] | None) -> Result:
    """The same request straight to the fake upstream (the added-latency reference)."""
    messages = [{"role": "system", "content": "You are a friendly assistant."}]
    for m in [*(history or []), ui_message("user", USER_TEXT)]:
        messages.append({"role": m["role"], "content": m["parts"][-1]["text"]})
    body = {"model": model, "messages": messages, "stream": True}
    return await one_shot(
        HOST,
        fake.port,
        "POST",
        "/v1/chat/completions",
        body,
        marker=UPSTREAM_FIRST,
        keep_body=False,
    )


def check(result: Result, what: str) -> None:
    if result.error or result.status != 200:
        raise RuntimeError(f"{what}: {result.status} {result.error} {result.body[:300]!r}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def per_turn(before: Usage, after: Usage, turns: int) -> dict[str, float | None]:
    """CPU ms per turn of the server, its PostgreSQL backends and its Redis (None: not
    measured)."""

    def ms(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else (b - a) * 1000 / turns

    return {
        "server_ms": ms(before.server, after.server),
        "pg_ms": ms(before.pg, after.pg),
        "redis_ms": ms(before.redis, after.redis),
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values) if values else float("nan"),
        "min": min(values) if values else float("nan"),
        "max": max(values) if values else float("nan"),
        "p99": pct(values, 99),
        "n": len(values),
    }


# --- cost per token ------------------------------------------------------------------------
async def cost_per_token(
    targets: list[Target], fake: Proc, rounds: int, tokens: int = 10_000
) -> dict[str, Any]:
    """One full-speed stream of `tokens` per target per round, interleaved; server CPU from
    /proc (after a short settle so work done just after `[DONE]` is counted)."""
    model = f"fake-n{tokens}-r0"
    for target in targets:  # warm-up, not measured
        check(await send_turn(target, model), f"warm-up {target.name}")
    await asyncio.sleep(1.0)
    keys = ["cpu_ms_per_1k", "bytes_per_token", "wall_s", "fake_cpu_ms_per_1k"]
    keys += ["loadgen_cpu_ms_per_1k", "pg_ms_per_turn", "redis_ms_per_turn"]
    rows: dict[str, dict[str, list[float]]] = {t.name: {k: [] for k in keys} for t in targets}
    per_1k = 1000 / (tokens / 1000)
    for _ in range(rounds):
        for target in targets:
            target.proc.refresh()
            u0, fake0, me0 = target.usage(), fake.cpu_seconds(), self_cpu_seconds()
            result = await send_turn(target, model)
            check(result, f"cost {target.name}")
            await asyncio.sleep(0.5)
            u1, fake1, me1 = target.usage(), fake.cpu_seconds(), self_cpu_seconds()
            row = rows[target.name]
            row["cpu_ms_per_1k"].append((u1.server - u0.server) * per_1k)
            row["fake_cpu_ms_per_1k"].append((fake1 - fake0) * per_1k)
            row["loadgen_cpu_ms_per_1k"].append((me1 - me0) * per_1k)
            row["bytes_per_token"].append(result.wire_bytes / tokens)
            row["wall_s"].append(result.duration)
            turn = per_turn(u0, u1, 1)
            for key in ("pg", "redis"):
                value = turn[f"{key}_ms"]
                if value is not None:
                    row[f"{key}_ms_per_turn"].append(value)
    return {name: {k: summary(v) for k, v in row.items() if v} for name, row in rows.items()}


# --- added time to first token -------------------------------------------------------------
async def added_ttft(
    targets: list[Target],
    fake: Proc,
    turns: int,
    existing_chats: dict[str, list[str]] | None,
    history: list[dict[str, Any]] | None,
    order_seed: int = 0,
) -> dict[str, Any]:
    """`turns` sequential short turns per target, each paired with the same request sent
    straight to the fake upstream just before it (interleaved: D A D B D C …). Each round
    takes the targets in a new random order (seeded: `order_seed`), so that none always
    follows the same one (whose background work, e.g. a new chat's title and saves, may
    still run) and none always comes first after the direct request."""
    model = "fake-n20-r0"
    rng = random.Random(order_seed)
    for target in targets:
        check(await send_turn(target, model), f"warm-up {target.name}")
    added: dict[str, list[float]] = {t.name: [] for t in targets}
    raw: dict[str, list[float]] = {t.name: [] for t in targets}
    direct: list[float] = []
    await asyncio.sleep(1.0)  # the warm-ups' background saves
    before = {t.name: t.usage() for t in targets}
    for i in range(turns):
        for target in rng.sample(targets, len(targets)):
            ref = await send_direct(fake, model, history)
            check(ref, "direct")
            chat_id = None
            if existing_chats is not None and target.kind == "ours":
                chat_id = existing_chats[target.name][i]
            result = await send_turn(target, model, chat_id=chat_id, history=history)
            check(result, f"ttft {target.name}")
            if result.ttft_ms is None or ref.ttft_ms is None:
                raise RuntimeError(f"no first token from {target.name}")
            direct.append(ref.ttft_ms)
            raw[target.name].append(result.ttft_ms)
            added[target.name].append(result.ttft_ms - ref.ttft_ms)
    await asyncio.sleep(1.0)  # the last turns' background saves
    cpu = {t.name: per_turn(before[t.name], t.usage(), turns) for t in targets}
    return {
        "order_seed": order_seed,
        "direct_ms": summary(direct),
        "targets": {
            name: {"ttft_ms": summary(raw[name]), "added_ms": summary(values), "cpu": cpu[name]}
            for name, values in added.items()
        },
    }


# --- concurrency ---------------------------------------------------------------------------
async def run_streams(
    target: Target,
    k: int,
    fake: Proc,
    *,
    tokens: int = 300,
    rate: int = 50,
    ramp_s: float = 1.0,
    settle_s: float = 1.5,
    rss_sampler: list[int] | None = None,
) -> dict[str, Any]:
    """K concurrent paced streams, started uniformly over `ramp_s`; counts the late ones.

    The server's CPU share is read over two windows, each divided by itself (a server pinned
    to one core cannot exceed 100 %): the `ramp_s` of starts, and the window in which all K
    streams are live (the last start to the first planned end). CPU per turn (server,
    PostgreSQL, Redis) is read from before the first start to `settle_s` after the last end
    (the turns' background saves)."""
    model = f"fake-n{tokens}-r{rate}"
    ideal = tokens / rate
    for i in range(k):  # users exist before the clock starts
        await target.user_token(i)
    target.proc.refresh()
    offsets = sorted(random.uniform(0, ramp_s) for _ in range(k))
    u0, fake0, me0 = target.usage(), fake.cpu_seconds(), self_cpu_seconds()
    t0 = time.monotonic()
    window = [(t0, target.proc.cpu_seconds())]

    async def one(i: int) -> Result:
        await asyncio.sleep(max(0.0, t0 + offsets[i] - time.monotonic()))
        return await send_turn(target, model, user=i)

    async def live_window() -> None:
        for at in (t0 + ramp_s, t0 + ideal):
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            window.append((time.monotonic(), target.proc.cpu_seconds()))

    tasks = [asyncio.create_task(live_window())]
    if rss_sampler is not None:

        async def sample() -> None:
            while True:
                target.proc.refresh()
                rss_sampler.append(target.proc.rss())
                await asyncio.sleep(0.2)

        tasks.append(asyncio.create_task(sample()))
    results = await asyncio.gather(*(one(i) for i in range(k)))
    wall = time.monotonic() - t0
    fake1, me1 = fake.cpu_seconds(), self_cpu_seconds()
    for task in tasks:
        task.cancel()
    await asyncio.sleep(settle_s)
    turn = per_turn(u0, target.usage(), k)
    errors = [r for r in results if r.error or r.status != 200 or r.first is None]
    durations = [r.duration for r in results if r not in errors]
    late = sum(1 for d in durations if d > ideal * 1.2)
    shares: list[float | None] = [
        (cb - ca) / (tb - ta) * 100 for (ta, ca), (tb, cb) in itertools.pairwise(window)
    ]
    start, live = [*shares, None, None][:2]
    return {
        "k": k,
        "ok": not errors and late <= 0.01 * k,
        "errors": len(errors),
        "error_sample": (errors[0].error or f"status {errors[0].status}") if errors else None,
        "late": late,
        "duration_s": summary(durations),
        "ttft_ms": summary([r.ttft_ms for r in results if r.ttft_ms is not None]),
        "start_cpu_pct": start,
        "live_cpu_pct": live,
        "cpu": turn,
        "server_ms_per_1k": None
        if turn["server_ms"] is None
        else turn["server_ms"] * 1000 / tokens,
        "fake_cpu_pct": (fake1 - fake0) / wall * 100,
        "loadgen_cpu_pct": (me1 - me0) / wall * 100,
        "wall_s": wall,
    }


async def concurrency(targets: list[Target], fake: Proc, ladder: list[int]) -> dict[str, Any]:
    """Raise K for every target still passing, interleaved at each K, until it fails."""
    steps: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    alive = list(targets)
    for k in ladder:
        for target in list(alive):
            step = await run_streams(target, k, fake)
            steps[target.name].append(step)
            live = step["live_cpu_pct"]
            print(
                f"  concurrency {target.name} K={k}: ok={step['ok']} late={step['late']} "
                f"errors={step['errors']} cpu={'?' if live is None else f'{live:.0f}'}%",
                flush=True,
            )
            if not step["ok"]:
                alive.remove(target)
        if not alive:
            break
    out: dict[str, Any] = {}
    for name, items in steps.items():
        passing = [s["k"] for s in items if s["ok"]]
        failed = [s["k"] for s in items if not s["ok"]]
        out[name] = {
            "max_k": max(passing) if passing else 0,
            "first_failing_k": min(failed) if failed else None,
            "steps": items,
        }
    return out


# --- memory --------------------------------------------------------------------------------
async def memory(targets: list[Target], fake: Proc, k: int) -> dict[str, Any]:
    """Idle RSS after a short warm-up, and peak RSS growth while K streams are active (a K
    every server carries on time, so that no figure is an overloaded server's backlog)."""
    out: dict[str, Any] = {}
    for target in targets:
        for _ in range(5):
            check(await send_turn(target, "fake-n20-r0"), f"warm-up {target.name}")
        for i in range(k):
            await target.user_token(i)
        await asyncio.sleep(1.0)
        target.proc.refresh()
        idle = statistics.median([target.proc.rss() for _ in range(5)])
        samples: list[int] = []
        step = await run_streams(target, k, fake, rss_sampler=samples)
        peak = max(samples) if samples else idle
        out[target.name] = {
            "idle_rss_mb": idle / 2**20,
            "peak_rss_mb": peak / 2**20,
            "kb_per_stream": (peak - idle) / 1024 / k,
            "k": k,
            "ok": step["ok"],
            "late": step["late"],
            "errors": step["errors"],
            "live_cpu_pct": step["live_cpu_pct"],
        }
    return out


def history_messages(count: int) -> list[dict[str, Any]]:
    """A chat's earlier messages (alternating user/assistant), as the baselines receive them."""
    return [
        ui_message("user" if i % 2 == 0 else "assistant", _filler(i, 120 if i % 2 == 0 else 600))
        for i in range(count)
    ]


def _filler(seed: int, length: int) -> str:
    words = ("lorem", "ipsum", "dolor", "sit", "amet", "stream", "token", "chat", "reply")
    out: list[str] = []
    i = seed
    while sum(len(w) + 1 for w in out) < length:
        out.append(words[i % len(words)])
        i += 7
    return " ".join(out)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
