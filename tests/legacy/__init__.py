"""Adopting a database created by the Next.js ai-chatbot app."""
