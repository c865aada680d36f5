"""Formatting for the generated report: numbers, ratios, Markdown tables, target checks."""

from __future__ import annotations

import math
from typing import Any

QUICK_NOTE = "**Quick smoke run: small samples, do not quote these figures.** "


def f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def mmm(row: dict[str, Any] | None, digits: int = 1) -> str:
    """median (min–max)"""
    if not row:
        return "–"
    return f"{f(row['median'], digits)} ({f(row['min'], digits)}–{f(row['max'], digits)})"


def med(row: dict[str, Any] | None, digits: int = 1) -> str:
    return f(row["median"], digits) if row else "–"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "–"
    return f"{a / b:.2f}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def over(value: float, limit: float, unit: str) -> str:
    if value <= limit:
        return ""
    return f"over by {f(value - limit, 1)} {unit} ({value / limit:.2f}× the target)"


def tiny(ms: float) -> str:
    if ms < 0.05:
        return "< 0.05 ms (under one 10 ms /proc tick for the whole measurement)"
    return f"{f(ms, 2)} ms"


class Checks:
    """The targets met or missed, one row each (current tree only)."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, what: str, target: str, measured: str, ok: bool | None, note: str = "") -> None:
        verdict = "n/a" if ok is None else ("**met**" if ok else "**missed**")
        self.rows.append([what, target, measured, verdict, note])
