"""Fake upstreams speaking the real wire protocols (OpenAI Chat Completions, Anthropic)."""
