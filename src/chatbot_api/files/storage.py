"""Storage backends for uploads."""

from __future__ import annotations

from typing import Any

import httpx

from chatbot_api.core.config import Settings


def create_storage(settings: Settings, http: httpx.AsyncClient) -> Any:
    return None
