"""The real `assistant-cloud@0.2.2` client (node) against the service on a loopback port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatbot_api.ai.demo_content import demo_title
from tests.conftest import run_node

API_KEY = "conformance-key-0123456789abcdef"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"assistant_cloud_api_keys": f"acme:{API_KEY}"}


async def test_assistant_cloud_client_round_trips_every_call(
    live_server: str, clients_dir: Path
) -> None:
    env = {"BASE_URL": live_server, "API_KEY": API_KEY, "WORKSPACE": "acme"}

    report = run_node(clients_dir, "cloud.mjs", env=env, timeout=180)

    assert report["ok"] is True
    assert report["messages"]["heights"] == [1, 0]
    assert report["paging"]["loaded"] == 250
    assert report["title"]["saved"] == report["title"]["streamed"]
    assert report["title"]["saved"] == demo_title("Plan a weekend trip to Lisbon")
    assert report["isolation"]["bobThreads"] == 0
    assert report["anonymous"]["moved"] == 2
