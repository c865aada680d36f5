"""The report's baseline comparison (`bench/run --baseline <ref>`): every figure of ours beside
the same figure of the baseline revision's server, measured interleaved in the same run, with
the ratio current / baseline and a flag on any figure more than 10 % worse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.fmt import f, table

WORSE = 0.10

# (label, value, higher is better, digits)
Figure = tuple[str, float | None, bool, int]


def _get(row: dict[str, Any] | None, *keys: str) -> float | None:
    value: Any = row
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) else None


def figures(data: dict[str, Any], name: str, common_k: int | None) -> Iterator[Figure]:
    """Every figure of one server of ours, in report order."""
    cost = data.get("cost", {}).get(name)
    if cost:
        yield "cost: server CPU ms / 1,000 tokens", _get(cost, "cpu_ms_per_1k", "median"), False, 1
        yield "cost: PostgreSQL CPU ms / turn", _get(cost, "pg_ms_per_turn", "median"), False, 2
        yield "cost: Redis CPU ms / turn", _get(cost, "redis_ms_per_turn", "median"), False, 2
        yield "cost: bytes / token", _get(cost, "bytes_per_token", "median"), False, 1
    for key, title in (("ttft_new", "TTFT new chat"), ("ttft_existing", "TTFT existing chat")):
        row = data.get(key, {}).get("targets", {}).get(name)
        if row:
            yield f"{title}: added p50 ms", _get(row, "added_ms", "median"), False, 2
            yield f"{title}: added p99 ms", _get(row, "added_ms", "p99"), False, 2
            yield f"{title}: server CPU ms / turn", _get(row, "cpu", "server_ms"), False, 2
            yield f"{title}: PostgreSQL CPU ms / turn", _get(row, "cpu", "pg_ms"), False, 2
            yield f"{title}: Redis CPU ms / turn", _get(row, "cpu", "redis_ms"), False, 2
    conc = data.get("concurrency", {}).get(name)
    if conc:
        yield "concurrency: max K passing", _get(conc, "max_k"), True, 0
        step = next((s for s in conc["steps"] if s["k"] == common_k), None)
        if step:
            at = f"concurrency K={common_k}"
            yield f"{at}: server CPU % (starts)", _get(step, "start_cpu_pct"), False, 0
            yield f"{at}: server CPU % (all K live)", _get(step, "live_cpu_pct"), False, 0
            yield f"{at}: server CPU ms / turn", _get(step, "cpu", "server_ms"), False, 1
            yield f"{at}: PostgreSQL CPU ms / turn", _get(step, "cpu", "pg_ms"), False, 2
            yield f"{at}: Redis CPU ms / turn", _get(step, "cpu", "redis_ms"), False, 2
            yield f"{at}: TTFT p50 ms", _get(step, "ttft_ms", "median"), False, 1
    mem = data.get("memory", {}).get(name)
    if mem:
        yield "memory: idle RSS MB", _get(mem, "idle_rss_mb"), False, 1
        yield "memory: KB per active stream", _get(mem, "kb_per_stream"), False, 1
    for endpoint, per_target in data.get("reading", {}).items():
        for clients, r in per_target.get(name, {}).items():
            at = f"read {endpoint}, {clients} client{'s' if clients != '1' else ''}"
            yield f"{at}: p50 ms", _get(r, "median"), False, 2
            yield f"{at}: p99 ms", _get(r, "p99"), False, 2
            yield f"{at}: server CPU ms / request", _get(r, "server_ms_per_request"), False, 2
            yield f"{at}: PostgreSQL CPU ms / request", _get(r, "pg_ms_per_request"), False, 2


def _common_k(data: dict[str, Any], a: str, b: str) -> int | None:
    """The largest K both servers passed (their per-turn figures compare like for like)."""
    conc = data.get("concurrency", {})
    if a not in conc or b not in conc:
        return None
    passed = [{s["k"] for s in conc[n]["steps"] if s["ok"]} for n in (a, b)]
    common = passed[0] & passed[1]
    return max(common) if common else None


def _verdict(cur: float, base: float, higher_better: bool) -> tuple[str, float | None]:
    if base == 0:
        return ("", None) if cur == 0 else ("**worse** (baseline 0)", None)
    worse = (1 - cur / base) if higher_better else (cur / base - 1)
    if worse > WORSE:
        return f"**worse by {worse * 100:.0f} %**", worse
    if worse < -WORSE:
        return f"better by {-worse * 100:.0f} %", worse
    return "", worse


def section(out: list[str], data: dict[str, Any]) -> None:
    base = data.get("baseline")
    if not base:
        return
    ref = base["ref"]
    out.append(f"\n## Against the baseline: `{ref}` ({base['commit'][:10]})\n")
    rows: list[list[str]] = []
    flagged: list[str] = []
    total = 0
    for cur, old in base["pairs"].items():
        k = _common_k(data, cur, old)
        old_figures = {label: value for label, value, _, _ in figures(data, old, k)}
        for label, value, higher, digits in figures(data, cur, k):
            was = old_figures.get(label)
            if value is None or was is None:
                continue
            total += 1
            verdict, _ = _verdict(value, was, higher)
            if verdict.startswith("**"):
                flagged.append(f"{label} (`{cur}`)")
            ratio = f"{value / was:.2f}×" if was else "–"
            rows.append([label, f"`{cur}`", f(value, digits), f(was, digits), ratio, verdict])
    _sql_rows(data, rows, flagged)
    summary = (
        f"**{len(flagged)} of {total} figures are more than 10 % worse than at `{ref}`:** "
        + "; ".join(flagged)
        + "."
        if flagged
        else f"No figure of ours is more than 10 % worse than at `{ref}` ({total} compared)."
    )
    out.append(
        f"Each server of ours beside the same server built from `{ref}` (its own worktree, venv "
        "from its uv.lock, database and Redis), interleaved with it in every scenario. Ratio = "
        "current / baseline; *worse* means higher, except for max K. "
        + (
            "Quick run: samples too small for a 10 % threshold to mean much. "
            if data.get("quick")
            else ""
        )
        + summary
        + "\n"
    )
    out.append(table(["figure", "server", "current", f"at {ref}", "ratio", "verdict"], rows))


def _sql_rows(data: dict[str, Any], rows: list[list[str]], flagged: list[str]) -> None:
    now, then = data.get("sql") or {}, data.get("sql_baseline") or {}
    for name, r in now.items():
        b = then.get(name)
        if not b:
            continue
        verdict, _ = _verdict(float(r["total"]), float(b["total"]), False)
        if verdict.startswith("**"):
            flagged.append(f"SQL statements: {name}")
        ratio = f"{r['total'] / b['total']:.2f}×" if b["total"] else "–"
        rows.append(
            [f"SQL statements: {name}", "ours", f(r["total"]), f(b["total"]), ratio, verdict]
        )
