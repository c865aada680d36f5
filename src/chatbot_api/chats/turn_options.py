"""Per-turn options of client-context turns: the tools offered, safe call settings, and the
`usage`/`modelId` message metadata put on `finish` (assistant-ui's token usage display)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatbot_api.ai.base import Usage
from chatbot_api.ai.tools import Tool
from chatbot_api.chats.turn_steps import StepConfig


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """What a client-context turn changes in the model steps."""

    tools: Mapping[str, Tool]  # backend tools (if offered) and the client's frontend tools
    temperature: float | None = None
    max_output_tokens: int | None = None

    def apply(self, config: StepConfig) -> None:
        config.tools = self.tools
        config.temperature = self.temperature
        if self.max_output_tokens is not None:
            config.max_output_tokens = self.max_output_tokens

    def finish_metadata(self, model_id: str, usage: Usage) -> dict[str, Any]:
        """`finish.messageMetadata`: the AI SDK's usage names, as `useThreadTokenUsage` reads."""
        totals: dict[str, Any] = {
            "inputTokens": usage.input_tokens,
            "outputTokens": usage.output_tokens,
            "totalTokens": usage.input_tokens + usage.output_tokens,
        }
        if usage.reasoning_tokens is not None:
            totals["reasoningTokens"] = usage.reasoning_tokens
        if usage.cached_input_tokens is not None:
            totals["cachedInputTokens"] = usage.cached_input_tokens
        return {"modelId": model_id, "usage": totals}
