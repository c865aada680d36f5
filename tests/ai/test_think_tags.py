"""`<think>` extraction is the same wherever the stream happens to be split."""

from __future__ import annotations

import pytest

from chatbot_api.ai.base import ModelEvent
from chatbot_api.ai.providers.think import ThinkTagSplitter
from tests.ai.events import reasoning_of, text_of

CASES = [
    ("<think>plan</think>\n\nanswer", "plan", "answer"),
    ("<thinking>deep</thinking>Done", "deep", "Done"),
    ("Before <think>mid</think> after", "mid", "Before after"),
    ("a < b and <thin walls> stay <t", "", "a < b and <thin walls> stay <t"),
    ("<think>unclosed thought", "unclosed thought", ""),
]


def run(pieces: list[str]) -> list[ModelEvent]:
    splitter = ThinkTagSplitter()
    out: list[ModelEvent] = []
    for piece in pieces:
        splitter.feed(piece, out)
    splitter.flush(out)
    return out


@pytest.mark.parametrize(("stream", "reasoning", "text"), CASES)
def test_split_at_every_position_gives_the_same_result(
    stream: str, reasoning: str, text: str
) -> None:
    for cut in range(len(stream) + 1):
        events = run([stream[:cut], stream[cut:]])
        assert (reasoning_of(events), text_of(events)) == (reasoning, text), cut


@pytest.mark.parametrize(("stream", "reasoning", "text"), CASES)
def test_one_character_at_a_time_gives_the_same_result(
    stream: str, reasoning: str, text: str
) -> None:
    events = run(list(stream))
    assert (reasoning_of(events), text_of(events)) == (reasoning, text)
