"""`GET /api/models` through the real app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ai.test_registry import FRONTEND_IDS, NO_PROVIDERS


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(NO_PROVIDERS)


async def test_list_models_offers_the_frontend_ids_answered_by_the_demo(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/models")
    assert response.status_code == 200
    body = response.json()
    assert body["defaultChatModel"] == "google/gemini-2.5-flash-lite"
    assert body["demo"] is True
    ids = [model["id"] for model in body["models"]]
    assert ids == [*FRONTEND_IDS, "chat-model", "chat-model-reasoning"]
    first = body["models"][0]
    assert first == {
        "id": "anthropic/claude-haiku-4.5",
        "name": "Claude Haiku 4.5",
        "description": "Fast and affordable, great for everyday tasks",
        "provider": "anthropic",
        "reasoning": False,
        "demo": True,
        "answeredBy": "demo",
        "upstreamModel": "chat-model",
        "fallbacks": [],
        "userTypes": None,
    }


@pytest.mark.parametrize("settings_overrides", [{**NO_PROVIDERS, "ai_gateway_api_key": "gw-key"}])
async def test_list_models_with_a_gateway_hides_the_demo(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/models")).json()
    assert body["demo"] is False
    assert [model["id"] for model in body["models"]] == FRONTEND_IDS
    assert not any(model["demo"] for model in body["models"])
