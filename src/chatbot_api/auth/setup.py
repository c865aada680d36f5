"""Auth state built in the lifespan: token revocation, throttles, Auth.js cookie reader."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from chatbot_api.auth.authjs import AuthjsCookieReader
from chatbot_api.auth.revocation import MemoryRevokedTokens, RedisRevokedTokens, RevokedTokens
from chatbot_api.auth.service import AuthThrottles
from chatbot_api.core.config import Settings
from chatbot_api.core.ratelimit import RateLimitBackend, Throttle, create_rate_limit_backend
from chatbot_api.core.redis import RedisHealth

LOGIN_WINDOW_SECONDS = 15 * 60
SIGNUP_WINDOW_SECONDS = 60 * 60


def build_auth_throttles(settings: Settings, backend: RateLimitBackend) -> AuthThrottles:
    def throttle(name: str, limit: int, window: int) -> Throttle:
        return Throttle(
            name=name,
            limit=limit,
            window_seconds=window,
            backend=backend,
            key_prefix=settings.redis_key_prefix,
            code="rate_limit:auth",
        )

    return AuthThrottles(
        login_per_account=throttle(
            "login-account", settings.auth_login_attempts_per_account, LOGIN_WINDOW_SECONDS
        ),
        login_per_ip=throttle(
            "login-ip", settings.auth_login_attempts_per_ip, LOGIN_WINDOW_SECONDS
        ),
        register_per_ip=throttle(
            "register-ip", settings.auth_register_per_ip, SIGNUP_WINDOW_SECONDS
        ),
        guest_per_ip=throttle("guest-ip", settings.auth_guest_per_ip, SIGNUP_WINDOW_SECONDS),
    )


def install_auth(
    state: Any, settings: Settings, redis: Redis | None, health: RedisHealth
) -> RedisRevokedTokens | None:
    """Put `auth_throttles`, `revoked_tokens` and `cookie_auth` on the
    app state. With Redis, limits and revocations hold across workers (and fall back to this
    worker's memory while `health` says Redis fails): the revocations' mirror is returned,
    started (the lifespan closes it)."""
    backend = create_rate_limit_backend(redis, health)
    mirror = None
    revoked: RevokedTokens = MemoryRevokedTokens()
    if redis is not None:
        revoked = mirror = RedisRevokedTokens(redis, settings.redis_key_prefix, health=health)
        mirror.start()
    state.auth_throttles = build_auth_throttles(settings, backend)
    state.revoked_tokens = revoked
    secret = settings.auth_secret.get_secret_value() if settings.auth_secret else ""
    state.cookie_auth = AuthjsCookieReader(secret) if secret else None
    return mirror
