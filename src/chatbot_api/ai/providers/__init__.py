"""LLM providers over raw HTTP + SSE: OpenAI-compatible Chat Completions and Anthropic Messages."""
