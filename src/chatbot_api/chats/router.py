"""HTTP routes of the chats domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["chats"])
