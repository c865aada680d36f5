"""`/health` (process up), `/health/ready` (database and Redis reachable), `/ping` → pong."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health/ready",
    summary="Database (and Redis when configured) reachable, and not shutting down",
    responses={503: {"description": "A dependency is unreachable, or the server is draining"}},
)
async def ready(request: Request) -> JSONResponse:
    if request.app.state.lifecycle.draining:
        return JSONResponse({"status": "draining", "checks": {}}, status_code=503)
    checks: dict[str, Any] = {}
    ok = True
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is the probe
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    redis = request.app.state.redis
    if redis is not None:
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
            ok = False
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/ping", response_class=PlainTextResponse, summary="Liveness check used by ai-chatbot")
async def ping() -> str:
    return "pong"
