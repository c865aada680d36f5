"""`/health` (process up), `/health/ready` (database reachable; Redis reachable or degraded),
`/ping` → pong."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from chatbot_api.core.redis import RedisHealth, RedisUnavailable

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health/ready",
    summary="Database reachable (503 if not); Redis, when configured, ok or degraded",
    responses={
        200: {
            "description": "Ready. `status` is `degraded` (and `checks.redis` too) while Redis "
            "is unreachable: the worker still serves, on its local fallbacks."
        },
        503: {"description": "The database is unreachable, or the worker is draining to stop"},
    },
)
async def ready(request: Request) -> JSONResponse:
    if request.app.state.lifecycle.draining:
        return JSONResponse({"status": "draining", "checks": {}}, status_code=503)
    checks: dict[str, Any] = {}
    status = "ok"
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is the probe
        checks["database"] = f"error: {type(exc).__name__}"
        status = "unavailable"
    redis = request.app.state.redis
    if redis is not None:
        redis_health: RedisHealth = request.app.state.redis_health
        try:
            await redis_health.call(redis.ping)
            checks["redis"] = "ok"
        except RedisUnavailable:
            # A cache outage is not an outage: stay in the load balancer (see configuration.md).
            checks["redis"] = "degraded"
            status = "degraded" if status == "ok" else status
    return JSONResponse(
        {"status": status, "checks": checks}, status_code=503 if status == "unavailable" else 200
    )


@router.get("/ping", response_class=PlainTextResponse, summary="Liveness check used by ai-chatbot")
async def ping() -> str:
    return "pong"
