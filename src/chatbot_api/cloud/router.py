"""The `/v1` URL map of the Assistant Cloud API: every cloud router, mounted by `api.py`."""

from __future__ import annotations

from fastapi import APIRouter

from chatbot_api.cloud.files_router import router as files_router
from chatbot_api.cloud.runs_router import router as runs_router
from chatbot_api.cloud.threads_router import router as threads_router
from chatbot_api.cloud.tokens_router import router as tokens_router

router = APIRouter()
router.include_router(threads_router)
router.include_router(runs_router)
router.include_router(tokens_router)
router.include_router(files_router)
