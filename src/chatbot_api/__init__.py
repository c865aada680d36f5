"""chatbot-api: a FastAPI backend for AI chat frontends."""

__version__ = "0.1.0"
