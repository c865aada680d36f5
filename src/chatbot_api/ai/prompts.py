"""System prompts of the chat, the artifact handlers and the title model (our own wording)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ArtifactKind = Literal["text", "code", "sheet"]

TITLE_MAX_CHARS = 80


def is_reasoning_model(model_id: str) -> bool:
    """A reasoning (thinking) model id: contains `reasoning` or ends with `-thinking`.

    Unlike upstream's substring test, `…-non-reasoning` ids (Grok 4.1 Fast) are not reasoning
    models: they keep their tools and get no thinking budget."""
    if model_id.endswith("-thinking"):
        return True
    return "reasoning" in model_id.replace("non-reasoning", "")


REGULAR_PROMPT = (
    "You are a helpful, friendly assistant. Keep answers short and to the point. "
    "When the user asks for something, do it right away instead of asking follow-up "
    "questions; if a detail is missing, pick a sensible default and mention it briefly. "
    "Ask a question back only when the request truly cannot be carried out without it."
)


@dataclass(frozen=True, slots=True)
class RequestHints:
    """Where the request came from (from the edge's geo headers); any field may be unknown."""

    latitude: str | None = None
    longitude: str | None = None
    city: str | None = None
    country: str | None = None


def request_hints_prompt(hints: RequestHints | None) -> str:
    """The origin block; unknown values are written as `undefined`."""
    hints = hints or RequestHints()

    def show(value: str | None) -> str:
        return value if value else "undefined"

    return (
        "Where the user's request comes from:\n"
        f"- lat: {show(hints.latitude)}\n"
        f"- lon: {show(hints.longitude)}\n"
        f"- city: {show(hints.city)}\n"
        f"- country: {show(hints.country)}"
    )


ARTIFACTS_PROMPT = """\
You can open documents ("artifacts") in a panel next to the conversation, where the user \
sees them being written and can edit them. Use the document tools as follows.

createDocument: use it for substantial or reusable content (more than about ten lines, \
essays, emails, articles, stories, spreadsheets) and whenever the user asks for a document. \
Any code goes into a document of kind "code", even a single snippet. Python is the only \
language documents support; write code in Python unless told otherwise. Do not use it for \
explanations, small talk or short answers, nor when the user wants the answer in the chat.

updateDocument: use it to change an existing document the user asks you to change. Rewrite \
the whole document for large changes; make focused edits for small, local ones. Never \
update a document in the same turn you created it; wait for the user's feedback.

requestSuggestions: use it only when the user explicitly asks for suggestions or \
improvements to a document that already exists, passing that document's id.

After a document tool has run, tell the user in a sentence or two what you did; do not \
repeat the document's content in the chat."""


def system_prompt(model_id: str, hints: RequestHints | None = None) -> str:
    """The chat system prompt; reasoning models get no tools, hence no artifacts section."""
    base = f"{REGULAR_PROMPT}\n\n{request_hints_prompt(hints)}"
    if is_reasoning_model(model_id):
        return base
    return f"{base}\n\n{ARTIFACTS_PROMPT}"


TEXT_DOCUMENT_PROMPT = (
    "Write a document on the topic the user gives. Use Markdown, with headings to "
    "organise the content where they help. Output only the document itself."
)

CODE_PROMPT = """\
You write Python code. Given a request, produce one short, self-contained Python program:
- it runs as is with the standard library only, and prints what it computes;
- it explains itself with brief comments and stays small (usually under 15 lines);
- it handles likely errors, and never reads input(), touches files or the network, or \
loops forever.
Example of the expected style:

def factorial(n: int) -> int:
    # Multiply 1..n together.
    result = 1
    for value in range(2, n + 1):
        result *= value
    return result

print(factorial(5))

Output only the code: no Markdown fences, no explanations around it."""

SHEET_PROMPT = (
    "You build spreadsheets. Given a request, produce one spreadsheet in CSV format: a "
    "header row with clear column names, then rows of realistic data. Output only the CSV: "
    "no Markdown fences, no explanations."
)

UPDATE_INTROS: dict[str, str] = {
    "text": "Revise the document below as the user's request describes.",
    "code": "Revise the Python code below as the user's request describes.",
    "sheet": "Revise the CSV spreadsheet below as the user's request describes.",
}

UPDATE_OUTPUT_RULES: dict[str, str] = {
    "text": "Output the complete revised document in Markdown and nothing else.",
    "code": "Output the complete revised code only, without Markdown fences.",
    "sheet": "Output the complete revised CSV only, without Markdown fences.",
}

UPDATE_CONTENT_MARKER = "Current content:\n\n"


def update_document_prompt(content: str | None, kind: str) -> str:
    """The system prompt for revising a document of `kind`; `content` follows the marker."""
    key = kind if kind in UPDATE_INTROS else "text"
    current = content if content is not None else "null"
    return f"{UPDATE_INTROS[key]} {UPDATE_OUTPUT_RULES[key]}\n\n{UPDATE_CONTENT_MARKER}{current}"


def artifact_create_prompt(kind: str) -> str:
    """The system prompt for writing a new document of `kind` (the title is the prompt)."""
    if kind == "code":
        return CODE_PROMPT
    if kind == "sheet":
        return SHEET_PROMPT
    return TEXT_DOCUMENT_PROMPT


MAX_SUGGESTIONS = 5

SUGGESTIONS_PROMPT = f"""\
You are an editor helping improve a piece of writing. Read the document the user sends and \
propose at most {MAX_SUGGESTIONS} improvements. Each improvement replaces one complete \
sentence of the document with a better full sentence.

Answer in JSON Lines: one JSON object per line, nothing else (no array, no Markdown \
fences, no commentary). Each object has exactly these string fields:
{{"originalSentence": "<a sentence copied exactly from the document>", \
"suggestedSentence": "<the improved sentence>", \
"description": "<why the change helps, in one short sentence>"}}"""

TITLE_PROMPT = """\
Write a title of two to five words for a conversation that starts with the user's message. \
Reply with the title only: no quotes, no punctuation at the end, no prefix such as \
"Title:", no Markdown, no hashtags.
Examples:
- "what's the weather in nyc" -> Weather in NYC
- "help me write a cover letter for a design job" -> Design Job Cover Letter
- "explain quantum entanglement simply" -> Quantum Entanglement Explained
- "hi" -> New Conversation"""

_TITLE_LEAD = re.compile(r'^[\s#*"]+')
_TITLE_TAIL = re.compile(r'"+$')


def clean_title(text: str, max_chars: int = TITLE_MAX_CHARS) -> str:
    """Tidy a title model's output: no leading `#`, `*`, quotes; no trailing quotes; capped."""
    title = _TITLE_TAIL.sub("", _TITLE_LEAD.sub("", text)).strip()
    title = " ".join(title.split())
    if len(title) > max_chars:
        title = title[:max_chars].rstrip()
    return title


_FENCE = re.compile(r"^\s*```[\w+-]*[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)
