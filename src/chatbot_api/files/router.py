"""HTTP routes of the files domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["files"])
