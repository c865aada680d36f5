"""What the demo model writes for titles and documents: deterministic, derived from the prompt."""

from __future__ import annotations

import re

import orjson

from chatbot_api.ai.prompts import MAX_SUGGESTIONS

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_SMALL_WORDS = frozenset(
    ("a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or",
     "over", "the", "to", "vs", "via", "with")
)  # fmt: skip
_ACRONYMS = {
    "nyc": "NYC",
    "sf": "SF",
    "usa": "USA",
    "uk": "UK",
    "eu": "EU",
    "ai": "AI",
    "api": "API",
    "csv": "CSV",
    "sql": "SQL",
    "llm": "LLM",
}
_TITLE_SKIP = frozenset(
    ("what", "what's", "whats", "is", "are", "was", "the", "a", "an", "please", "can",
     "could", "would", "will", "you", "me", "i", "tell", "how", "do", "does", "write",
     "create", "draft", "make", "generate", "give", "show", "explain", "help", "hey", "hi",
     "hello")
)  # fmt: skip
_GREETINGS = frozenset(
    ("hi", "hello", "hey", "yo", "hiya", "howdy", "greetings", "thanks", "thank")
)
_FILLERS = re.compile(r"\b(?:really|just|quite|basically|actually|literally)\s+", re.I)
_KIND_WORDS = frozenset(
    ("document", "essay", "story", "article", "email", "letter", "poem", "report", "code",
     "program", "script", "function", "snippet", "spreadsheet", "sheet", "csv", "table", "list")
)  # fmt: skip
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")


def title_case(words: list[str]) -> str:
    """Title Case with small words lowercased (except first) and known acronyms uppercased."""
    out: list[str] = []
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in _ACRONYMS:
            out.append(_ACRONYMS[lower])
        elif index and lower in _SMALL_WORDS:
            out.append(lower)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def demo_title(message: str) -> str:
    """A 2–5 word title for a conversation starting with `message`."""
    words = _WORD.findall(message)
    if not words or all(w.lower() in _GREETINGS for w in words):
        return "New Conversation"
    start = 0
    while start < len(words) - 1 and words[start].lower() in _TITLE_SKIP:
        start += 1
    kept = words[start : start + 5]
    while len(kept) > 2 and kept[-1].lower() in _SMALL_WORDS:
        kept.pop()
    if len(kept) == 1:
        return "About " + title_case(kept)
    return title_case(kept)


def topic_title(prompt: str) -> str:
    """A document title from a request such as "write an essay about the ocean"."""
    match = re.search(r"\b(?:about|on|regarding|titled|called)\s+(.+)", prompt, re.I)
    words = _WORD.findall(match.group(1) if match else prompt)
    if not match:
        while len(words) > 1 and words[0].lower() in _TITLE_SKIP:
            words = words[1:]
    while len(words) > 1 and words[0].lower() in ("a", "an", "the"):
        words = words[1:]
    if len(words) > 2 and words[0].lower() in _KIND_WORDS and words[1].lower() in ("of", "for"):
        words = words[2:]
    return title_case(words[:8]) if words else "Untitled"


def text_document(title: str) -> str:
    return (
        f"# {title}\n\n"
        "*Written by the offline demo model. Configure a model provider to get real "
        "writing.*\n\n"
        "## Overview\n\n"
        f"This document is about {title}. It shows how a document streams into the panel, "
        "how it is saved as a version, and how you can edit it afterwards.\n\n"
        "## Key points\n\n"
        f"- What {title} is and why it matters.\n"
        "- The questions a reader is likely to ask.\n"
        "- Where to learn more.\n\n"
        "## Summary\n\n"
        f"{title} deserves a closer look. Ask for changes, or for suggestions, to continue.\n"
    )


def code_document(title: str) -> str:
    return (
        f"# {title}: a demo snippet written by the offline demo model.\n"
        f"topic = {title!r}\n"
        "words = topic.split()\n"
        "\n"
        "# Count the words and print each with its length.\n"
        'print(f"Topic: {topic} ({len(words)} words)")\n'
        "for index, word in enumerate(words, start=1):\n"
        '    print(f"{index}. {word} ({len(word)} letters)")\n'
    )


def sheet_document(title: str) -> str:
    safe = title.replace('"', "'")
    return (
        "Item,Category,Quantity,Unit Price,Total\n"
        f'"{safe} — sample A",Demo,3,4.50,13.50\n'
        f'"{safe} — sample B",Demo,1,12.00,12.00\n'
        f'"{safe} — sample C",Demo,5,2.25,11.25\n'
        "Total,,9,,36.75\n"
    )


def updated_document(content: str, kind: str, description: str) -> str:
    """A deterministic edit of `content` that visibly applies `description`."""
    request = " ".join(description.split())[:200] or "an edit"
    body = content.rstrip("\n")
    if kind == "code":
        return f"# Revised by the offline demo model: {request}\n{body}\n"
    if kind == "sheet":
        lines = body.splitlines() or ["Value"]
        note = request.replace('"', "'")
        rows = [lines[0] + ",Note"] + [f'{line},"{note}"' for line in lines[1:2]]
        return "\n".join(rows + [line + "," for line in lines[2:]]) + "\n"
    lowered = request.lower()
    if any(word in lowered for word in ("shorter", "shorten", "concise", "brief", "summar")):
        paragraphs = [p for p in body.split("\n\n") if p.strip()]
        return "\n\n".join(paragraphs[:3]) + "\n"
    return f"{body}\n\n## Revision\n\nRevised by the offline demo model as requested: {request}.\n"


def suggestion_lines(content: str) -> str:
    """At most MAX_SUGGESTIONS JSON Lines `{originalSentence, suggestedSentence, description}`."""
    lines: list[str] = []
    for match in _SENTENCE.finditer(content):
        sentence = match.group(0).strip().lstrip("#*-> ").strip()
        if len(sentence.split()) < 4:
            continue
        if _FILLERS.search(sentence):
            suggested = _FILLERS.sub("", sentence)
            why = "Drop filler words so the sentence reads tighter."
        else:
            suggested = "In short, " + sentence[:1].lower() + sentence[1:]
            why = "Signal the point up front so the reader knows what follows."
        item = {"originalSentence": sentence, "suggestedSentence": suggested, "description": why}
        lines.append(orjson.dumps(item).decode())
        if len(lines) == MAX_SUGGESTIONS:
            break
    return "\n".join(lines) + ("\n" if lines else "")
