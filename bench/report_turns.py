"""The report's streaming sections: the fake upstream's ceiling, cost per token, added time to
first token, concurrency and memory per active stream (tables and how each was measured)."""

from __future__ import annotations

from typing import Any

from bench.fmt import Checks, f, mmm, over, ratio, table, tiny


def _ms(value: float | None, digits: int = 2) -> str:
    return f(value, digits)


def ceiling(out: list[str], data: dict[str, Any]) -> None:
    c = data.get("ceiling")
    if not c:
        return
    out.append("\n## Fake upstream: its own ceiling\n")
    out.append("Requests sent straight to bench/fake_upstream.py (replies pre-encoded):\n")
    rows = [
        ["full speed: upstream CPU per 1,000 tokens", tiny(c["full_speed_cpu_ms_per_1k"])],
        [
            "full speed: tokens/s into one raw-socket client",
            f(c["full_speed_tokens_per_s_to_one_client"], 0),
        ],
        [
            f"paced (K={c['paced_k']} × 300 tokens at 50/s): upstream CPU",
            f"{f(c['paced_cpu_pct'])}% of a core ({f(c['paced_cpu_ms_per_1k'], 1)} ms per "
            "1,000 tokens)",
        ],
        [
            "paced: streams at 50 tokens/s one core of upstream could feed",
            f(c["paced_streams_per_core"], 0),
        ],
        [
            "load generator CPU while reading those paced streams",
            f"{f(c['loadgen_paced_cpu_pct'])}% of a core",
        ],
    ]
    out.append(table(["", "value"], rows))


def cost(out: list[str], data: dict[str, Any], names: list[str], checks: Checks) -> None:
    cost = data.get("cost")
    if not cost:
        return
    out.append("\n## Cost per token: one 10,000-token stream at full speed\n")
    node = cost.get("node", {}).get("cpu_ms_per_1k", {}).get("median")
    relay = cost.get("relay", {}).get("cpu_ms_per_1k", {}).get("median")
    rows = []
    for name in names:
        row = cost[name]
        median = row["cpu_ms_per_1k"]["median"]
        rows.append(
            [
                f"`{name}`",
                mmm(row["cpu_ms_per_1k"]),
                ratio(median, node),
                ratio(median, relay),
                mmm(row.get("pg_ms_per_turn"), 2),
                mmm(row.get("redis_ms_per_turn"), 2),
                mmm(row["bytes_per_token"]),
                mmm(row["wall_s"], 2),
                f(row["fake_cpu_ms_per_1k"]["median"], 2),
                f(row["loadgen_cpu_ms_per_1k"]["median"], 1),
            ]
        )
    header = ["server", "server CPU ms / 1,000 tokens", "vs node", "vs relay"]
    header += ["PostgreSQL CPU ms / turn", "Redis CPU ms / turn", "bytes / token on the wire"]
    header += ["stream wall s", "upstream CPU ms / 1k", "load generator CPU ms / 1k"]
    out.append(table(header, rows))
    n = next(iter(cost.values()))["cpu_ms_per_1k"]["n"]
    out.append(
        f"\n{n} interleaved rounds after one warm-up each; every CPU figure is read before the "
        "request and 0.5 s after `[DONE]` (the reply's and title's saves included).\n"
    )
    for name in _current_ours(names):
        value = cost[name]["cpu_ms_per_1k"]["median"]
        if node:
            checks.add(
                "CPU / 1,000 tokens ≤ 0.5 × node",
                f"`{name}`",
                f"{f(value)} ms vs {f(node)} ms = {ratio(value, node)}",
                value <= 0.5 * node,
                over(value, 0.5 * node, "ms"),
            )


def ttft(out: list[str], data: dict[str, Any], names: list[str], checks: Checks) -> None:
    for key, title in (("ttft_new", "new chat"), ("ttft_existing", "existing chat of 20 messages")):
        t = data.get(key)
        if not t:
            continue
        out.append(f"\n## Added time to first token: {title}\n")
        node = t["targets"].get("node", {}).get("added_ms", {}).get("median")
        direct = t["direct_ms"]
        rows = [["direct to the fake upstream", f(direct["median"], 2), f(direct["p99"], 2)]]
        rows[0] += [""] * 6
        for name in names:
            r = t["targets"][name]
            cpu = r.get("cpu", {})
            rows.append(
                [
                    f"`{name}`",
                    f(r["ttft_ms"]["median"], 2),
                    f(r["ttft_ms"]["p99"], 2),
                    f(r["added_ms"]["median"], 2),
                    f(r["added_ms"]["p99"], 2),
                    ratio(r["added_ms"]["median"], node),
                    _ms(cpu.get("server_ms")),
                    _ms(cpu.get("pg_ms")),
                    _ms(cpu.get("redis_ms")),
                ]
            )
        header = ["server", "first text-delta p50 ms", "p99 ms", "added p50 ms", "added p99 ms"]
        header += ["added p50 vs node", "server CPU ms / turn", "PostgreSQL CPU ms / turn"]
        header += ["Redis CPU ms / turn"]
        out.append(table(header, rows))
        n = direct["n"] // max(1, len(names))
        out.append(
            f"\n{n} sequential turns per server, each paired with the same request sent straight "
            "to the fake upstream just before it (added = server − direct, per pair); each round "
            f"takes the servers in a new random order (seed {t.get('order_seed', 0)}). The "
            "DB-less baselines receive the earlier messages in the body; ours loads them. CPU per "
            "turn: each server's whole scenario (from after its warm-up to 1 s after the last "
            "turn) divided by its turns.\n"
        )
        for name in _current_ours(names):
            r = t["targets"][name]["added_ms"]
            if node:
                checks.add(
                    f"added TTFT p50 ≤ 0.5 × node ({title})",
                    f"`{name}`",
                    f"{f(r['median'], 2)} ms vs {f(node, 2)} ms = {ratio(r['median'], node)}",
                    r["median"] <= 0.5 * node,
                    over(r["median"], 0.5 * node, "ms"),
                )
            checks.add(
                f"added TTFT p99 ≤ 30 ms ({title})",
                f"`{name}`",
                f"{f(r['p99'], 2)} ms",
                r["p99"] <= 30,
                over(r["p99"], 30, "ms"),
            )


def _current_ours(names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("ours") and "@" not in n]


def concurrency(out: list[str], data: dict[str, Any], names: list[str], checks: Checks) -> None:
    conc = data.get("concurrency")
    if not conc:
        return
    out.append("\n## Concurrency: K streams of 300 tokens at 50 tokens/s, one worker\n")
    out.append(
        "K rises (the same K for every server still passing, interleaved) until more than 1% of "
        "streams take over 1.2 × the ideal 6 s (request sent → `[DONE]`), or any error. Starts "
        "are spread uniformly over 1 s; every stream is a new chat of its own user. Server CPU % "
        "is read over two windows, each divided by itself, so a server pinned to one core reads "
        "at most 100 %: the 1 s of starts, and the 5 s in which all K streams are live (1 s → 6 "
        "s after the first start). CPU per turn spans the whole step to 1.5 s after its last "
        "stream.\n"
    )
    node = conc.get("node", {}).get("max_k")
    rows = []
    for name in names:
        c = conc[name]
        failing = next((s for s in c["steps"] if not s["ok"]), None)
        at = "ladder ended: not reached"
        if failing:
            at = (
                f"server {f(failing.get('start_cpu_pct'), 0)} % of its core during the starts, "
                f"{f(failing.get('live_cpu_pct'), 0)} % with all live; upstream + load "
                f"generator {f(failing['fake_cpu_pct'] + failing['loadgen_cpu_pct'], 0)} %, "
                f"TTFT p50 {f(failing['ttft_ms']['median'], 0)} ms, late {failing['late']}, "
                f"errors {failing['errors']}"
            )
        rows.append(
            [f"`{name}`", f(c["max_k"]), f(c["first_failing_k"]), ratio(c["max_k"], node), at]
        )
    header = ["server", "max K passing", "first failing K", "vs node", "at the first failing K"]
    out.append(table(header, rows))
    out.append("\nEvery step:\n")
    rows = []
    for name in names:
        for s in conc[name]["steps"]:
            cpu = s.get("cpu", {})
            rows.append(
                [
                    f"`{name}`",
                    f(s["k"]),
                    "yes" if s["ok"] else "**no**",
                    f"{s['late']}",
                    f"{s['errors']}",
                    f(s["duration_s"]["median"], 2),
                    f(s["duration_s"]["max"], 2),
                    f(s["ttft_ms"]["median"], 1),
                    f(s.get("start_cpu_pct"), 0),
                    f(s.get("live_cpu_pct"), 0),
                    f(cpu.get("server_ms"), 1),
                    f(s.get("server_ms_per_1k"), 0),
                    _ms(cpu.get("pg_ms")),
                    _ms(cpu.get("redis_ms")),
                    f(s["fake_cpu_pct"], 0),
                    f(s["loadgen_cpu_pct"], 0),
                ]
            )
    header = ["server", "K", "pass", "late", "errors", "duration p50 s", "max s", "TTFT p50 ms"]
    header += ["server CPU % (starts)", "server CPU % (all K live)", "server CPU ms / turn"]
    header += ["server CPU ms / 1k tokens", "PostgreSQL CPU ms / turn", "Redis CPU ms / turn"]
    header += ["upstream CPU %", "load gen CPU %"]
    out.append(table(header, rows))
    for name in _current_ours(names):
        k = conc[name]["max_k"]
        if node:
            checks.add(
                "concurrent 50 tok/s streams per worker ≥ 2 × node",
                f"`{name}`",
                f"{k} vs {node} = {ratio(k, node)}",
                k >= 2 * node,
                "" if k >= 2 * node else f"needs K ≥ {2 * node}: short by {2 * node - k} streams",
            )


def memory(out: list[str], data: dict[str, Any], names: list[str], checks: Checks) -> None:
    mem = data.get("memory")
    if not mem:
        return
    k = next(iter(mem.values()))["k"]
    out.append(f"\n## Memory: idle RSS and RSS growth per active stream (K = {k})\n")
    node = mem.get("node", {})
    rows = []
    for name in names:
        r = mem[name]
        compared = r["ok"] and node.get("ok")
        rows.append(
            [
                f"`{name}`",
                f(r["idle_rss_mb"]),
                f(r["peak_rss_mb"]),
                f(r["kb_per_stream"]),
                ratio(r["kb_per_stream"], node.get("kb_per_stream")) if compared else "–",
                "yes" if r["ok"] else f"**no** (late {r['late']}, errors {r['errors']})",
                f(r.get("live_cpu_pct"), 0),
            ]
        )
    header = ["server", "idle RSS MB", f"peak RSS MB, {k} streams", "KB per active stream"]
    header += ["vs node", "streams on time", "server CPU % of its core (all K live)"]
    out.append(table(header, rows))
    late = [f"`{n}`" for n in names if not mem[n]["ok"]]
    out.append(
        f"\nK = {k} is a level every server is meant to carry on time (below Node's ceiling in "
        "the concurrency ladder), measured first, on fresh processes after 5 warm-up turns: "
        "idle = median of 5 samples, peak = max of samples every 200 ms during the K streams; "
        "growth per stream = (peak − idle) / K."
        + (
            f" **Late at this K: {', '.join(late)}** — an overloaded server's figure includes "
            "its backlog, so it gets no ratio."
            if late
            else " Every server kept its streams on time at this K."
        )
        + "\n"
    )
    for name in _current_ours(names):
        v = mem[name]["kb_per_stream"]
        checks.add(
            f"≤ 64 KB memory per active stream (K = {k})",
            f"`{name}`",
            f"{f(v)} KB",
            v <= 64,
            over(v, 64, "KB"),
        )
