"""Splits `<think>…</think>` (or `<thinking>…</thinking>`) out of streamed text, across chunks."""

from __future__ import annotations

from chatbot_api.ai.base import ModelEvent, ReasoningDelta, TextDelta

_OPEN_TAGS = ("<think>", "<thinking>")


def _partial_suffix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest end of `text` that could be the start of one of `tags`."""
    longest = max(len(tag) for tag in tags)
    for size in range(min(longest - 1, len(text)), 0, -1):
        tail = text[-size:]
        if any(tag.startswith(tail) and tag != tail for tag in tags):
            return size
    return 0


class ThinkTagSplitter:
    """Feeds text deltas; appends TextDelta/ReasoningDelta events. Stateful: a tag may be
    split over several deltas. Text without `<` and no pending partial tag is a fast path."""

    __slots__ = ("_close", "_inside", "_pending", "_strip_next")

    def __init__(self) -> None:
        self._inside = False
        self._close = ""
        self._pending = ""
        self._strip_next = False

    def feed(self, text: str, out: list[ModelEvent]) -> None:
        if not self._pending and "<" not in text:
            self._emit(text, out)
            return
        text = self._pending + text
        self._pending = ""
        while text:
            text = self._close_tag(text, out) if self._inside else self._open_tag(text, out)

    def flush(self, out: list[ModelEvent]) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self._emit(pending, out)

    def _open_tag(self, text: str, out: list[ModelEvent]) -> str:
        index = text.find("<")
        while index >= 0:
            rest = text[index:]
            for tag in _OPEN_TAGS:
                if rest.startswith(tag):
                    self._emit(text[:index], out)
                    self._inside = True
                    self._close = "</" + tag[1:]
                    return rest[len(tag) :]
            if any(tag.startswith(rest) for tag in _OPEN_TAGS):
                self._emit(text[:index], out)
                self._pending = rest
                return ""
            index = text.find("<", index + 1)
        self._emit(text, out)
        return ""

    def _close_tag(self, text: str, out: list[ModelEvent]) -> str:
        index = text.find(self._close)
        if index >= 0:
            self._emit(text[:index], out)
            self._inside = False
            self._strip_next = True
            return text[index + len(self._close) :]
        keep = _partial_suffix(text, (self._close,))
        self._emit(text[: len(text) - keep], out)
        self._pending = text[len(text) - keep :]
        return ""

    def _emit(self, text: str, out: list[ModelEvent]) -> None:
        if self._inside:
            if text:
                out.append(ReasoningDelta(text))
            return
        if self._strip_next:
            text = text.lstrip()
            if not text:
                return
            self._strip_next = False
        if text:
            out.append(TextDelta(text))
