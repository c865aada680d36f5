"""The report's reading sections: read latency per endpoint, and SQL statements per request."""

from __future__ import annotations

from typing import Any

from bench.fmt import Checks, f, over, ratio, table


def reading(out: list[str], data: dict[str, Any], checks: Checks) -> None:
    rd = data.get("reading")
    if not rd:
        return
    chats = (
        "1,000 chats / 10,000 messages" if data.get("quick") else "10,000 chats / 100,000 messages"
    )
    out.append(f"\n## Reading: a user with {chats} on PostgreSQL\n")
    out.append(
        f"Seeded with COPY (asyncpg), one user per revision's database, in {f(data.get('seed_s'))} "
        "s in all, then VACUUM (ANALYZE). Latency = request written → last body byte, keep-alive "
        "connections, one per client; the requests and the servers take turns in blocks (4 per "
        "row). CPU per request: server and PostgreSQL backends, read around each block.\n"
    )
    rows = []
    for endpoint, per_target in rd.items():
        for name, per_clients in per_target.items():
            for clients, r in per_clients.items():
                rows.append(
                    [
                        endpoint,
                        f"`{name}`",
                        clients,
                        f(r["median"], 2),
                        f(r.get("p90"), 2),
                        f(r["p99"], 2),
                        f"{f(r['min'], 2)}–{f(r['max'], 2)}",
                        f(r.get("slow")),
                        f(r.get("server_ms_per_request"), 2),
                        f(r.get("pg_ms_per_request"), 2),
                        f(r["n"]),
                    ]
                )
    header = ["request", "server", "clients", "p50 ms", "p90 ms", "p99 ms", "min–max ms"]
    header += ["> 3 × p50", "server CPU ms / request", "PostgreSQL CPU ms / request", "n"]
    out.append(table(header, rows))
    out.append("\nThe latency targets are read at 1 client.\n")
    _reading_checks(rd, checks)


def _reading_checks(rd: dict[str, Any], checks: Checks) -> None:
    firsts = {
        name: per_clients["1"]["median"]
        for name, per_clients in rd.get("history first page", {}).items()
    }
    for endpoint, per_target in rd.items():
        for name, per_clients in per_target.items():
            if "@" in name:
                continue
            r1 = per_clients["1"]
            if endpoint == "history first page":
                checks.add(
                    "history first page p50 ≤ 10 ms (1 client)",
                    f"`{name}`",
                    f"{f(r1['median'], 2)} ms",
                    r1["median"] <= 10,
                )
            elif endpoint.startswith("history page"):
                base = firsts.get(name)
                if base:
                    checks.add(
                        "deep page ≤ 1.5 × first page (p50, 1 client)",
                        f"`{name}`",
                        f"{f(r1['median'], 2)} vs {f(base, 2)} ms = {ratio(r1['median'], base)}",
                        r1["median"] <= 1.5 * base,
                    )
            else:
                checks.add(
                    "1,000-message chat p99 ≤ 60 ms (1 client)",
                    f"`{name}`",
                    f"{f(r1['p99'], 2)} ms (p50 {f(r1['median'], 2)} ms)",
                    r1["p99"] <= 60,
                    over(r1["p99"], 60, "ms"),
                )


def sql(out: list[str], data: dict[str, Any], checks: Checks) -> None:
    sql = data.get("sql")
    if not sql:
        return
    base = data.get("sql_baseline") or {}
    ref = data.get("baseline", {}).get("ref")
    out.append("\n## SQL statements per request\n")
    out.append(
        "Counted by a PostgreSQL wire-protocol proxy (bench/reads.py `PgCounter`) between a "
        "separate instance of our service and PostgreSQL: every simple `Query` and every "
        "extended-protocol `Execute` is one statement. Each request is sent three times; the "
        "third (warm pool, cached prepared statements) is reported. `data` excludes "
        "BEGIN/COMMIT/ROLLBACK and the pool's pre-ping (`;`).\n"
    )
    rows = []
    for name, r in sql.items():
        row = [name, f(r["total"]), f(r["data_statements"])]
        if base:
            b = base.get(name)
            row += [f(b["total"]), f(b["data_statements"])] if b else ["–", "–"]
        rows.append(row)
    header = ["request", "statements (all)", "data statements"]
    if base:
        header += [f"all at {ref}", f"data at {ref}"]
    out.append(table(header, rows))
    out.append("\n<details><summary>Statements sent</summary>\n")
    for name, r in sql.items():
        out.append(f"\n**{name}**\n")
        out.append("```sql")
        out.extend(r["statements"])
        out.append("```")
    out.append("\n</details>\n")
    for name, r in sql.items():
        if name.startswith("POST"):
            continue
        checks.add(
            "≤ 4 SQL statements per read",
            name,
            f"{r['total']} all / {r['data_statements']} data",
            r["total"] <= 4,
            ""
            if r["total"] <= 4
            else ("met counting data statements only" if r["data_statements"] <= 4 else ""),
        )
