"""Auth state built in the lifespan: token revocation, throttles, Auth.js cookie reader."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from chatbot_api.core.config import Settings


def install_auth(state: Any, settings: Settings, redis: Redis | None) -> None:
    state.revoked_tokens = None
    state.cookie_auth = None
