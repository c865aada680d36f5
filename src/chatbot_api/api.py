"""The URL map: every router with its prefix."""

from __future__ import annotations

from fastapi import FastAPI

from chatbot_api.ai.router import router as models_router
from chatbot_api.auth.router import router as auth_router
from chatbot_api.chats.router import router as chats_router
from chatbot_api.chats.turn.router import router as turn_router
from chatbot_api.cloud.router import router as cloud_router
from chatbot_api.cloud.simple_router import router as simple_threads_router
from chatbot_api.documents.router import router as documents_router
from chatbot_api.files.router import router as files_router
from chatbot_api.ops.router import router as ops_router


def include_routes(app: FastAPI) -> None:
    app.include_router(turn_router, prefix="/api")
    app.include_router(ops_router)
    app.include_router(auth_router, prefix="/api/auth")
    app.include_router(chats_router, prefix="/api")
    app.include_router(documents_router, prefix="/api")
    app.include_router(files_router, prefix="/api/files")
    app.include_router(cloud_router, prefix="/v1")
    app.include_router(simple_threads_router, prefix="/api")
    app.include_router(models_router, prefix="/api")
