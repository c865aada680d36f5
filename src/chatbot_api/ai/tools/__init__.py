"""The chat tools: getWeather, createDocument, updateDocument, requestSuggestions."""

from __future__ import annotations

from chatbot_api.ai.tools.base import Tool, ToolContext, ToolFailed
from chatbot_api.ai.tools.documents import CreateDocument, UpdateDocument
from chatbot_api.ai.tools.suggestions import RequestSuggestions
from chatbot_api.ai.tools.weather import GetWeather

CHAT_TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (GetWeather(), CreateDocument(), UpdateDocument(), RequestSuggestions())
}

__all__ = ["CHAT_TOOLS", "Tool", "ToolContext", "ToolFailed"]
