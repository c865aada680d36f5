"""Alembic migrations; the baseline revision is the ai-chatbot (Drizzle 0008) schema."""
