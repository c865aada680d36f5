"""The LLM layer: model registry, providers (OpenAI-compatible, Anthropic, demo), prompts, tools."""
