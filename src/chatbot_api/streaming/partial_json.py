"""Best-effort parsing of a JSON prefix (a tool input still streaming), as the AI SDK shows it."""

from __future__ import annotations

from typing import Any

import orjson

MISSING: Any = object()  # "no value": the key stays absent, as `undefined` in JS
_LITERALS = ("true", "false", "null")


def parse_partial_json(text: str, *, cut_unicode_escapes: bool = True) -> Any:
    """The value of `text`, or of its longest prefix closed into valid JSON.

    Incomplete keys are dropped, open strings/containers closed, literal prefixes completed,
    dangling number signs or dots cut (an exponent's `+` ends the number, as in the client).
    A string ending inside a `\\uXXXX` escape is cut before it when `cut_unicode_escapes`
    (ai@6+), otherwise nothing parses (ai@5). Returns `MISSING` when nothing parses.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    repaired = _repair(text, cut_unicode_escapes)
    if repaired is None:
        return MISSING
    try:
        return orjson.loads(repaired)
    except orjson.JSONDecodeError:
        return MISSING


def _closers(stack: list[str]) -> str:
    return "".join("}" if kind == "{" else "]" for kind in reversed(stack))


def _repair(text: str, cut_unicode_escapes: bool) -> str | None:
    stack: list[str] = []  # open containers: "{" or "["
    expect_key = False  # inside an object, before a key
    cut: str | None = None  # the best repair found so far
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n,:":
            if char == "," and stack and stack[-1] == "{":
                expect_key = True
            i += 1
            continue
        if char in "{[":
            stack.append(char)
            expect_key = char == "{"
            cut = text[: i + 1] + _closers(stack)
            i += 1
            continue
        if char in "}]":
            if stack:
                stack.pop()
            expect_key = False
            cut = text[: i + 1] + _closers(stack)
            i += 1
            continue
        if char == '"':
            end, closed, dangling = _scan_string(text, i, cut_unicode_escapes)
            if expect_key:
                if not closed:
                    break
                expect_key = False
            elif closed:
                cut = text[:end] + _closers(stack)
            else:
                body = text[: end - dangling]
                cut = body + '"' + _closers(stack)
            i = end
            continue
        end = i
        while end < n and text[end] not in " \t\r\n,:]}":
            end += 1
        token = text[i:end]
        literal = next((word for word in _LITERALS if word.startswith(token)), None)
        if literal is not None:
            cut = text[:i] + literal + _closers(stack)
        else:
            number = token.split("+", 1)[0].rstrip(".eE-")
            if number and number != "-":
                cut = text[:i] + number + _closers(stack)
        i = end
    return cut


def _scan_string(text: str, start: int, cut_unicode: bool) -> tuple[int, bool, int]:
    """Index after the string starting at `start` (a quote), whether it was closed, and the
    length of an unfinished escape at its end."""
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            width = 6 if cut_unicode and text[i + 1 : i + 2] == "u" else 2
            if i + width > n:
                return n, False, n - i
            i += width
            continue
        if char == '"':
            return i + 1, True, 0
        i += 1
    return n, False, 0
