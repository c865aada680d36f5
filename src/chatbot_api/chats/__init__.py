"""Chats, messages, votes and history (the ai-chatbot chat domain); turn.py runs one chat turn."""
