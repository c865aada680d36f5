"""The simple threads API for plain HTTP clients: `POST/GET /api/threads` as `{id, title,
created_at}`, on the same thread store as the cloud client's `/v1/threads`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from chatbot_api.cloud.dependencies import ThreadServiceDep, errors
from chatbot_api.cloud.schemas import TITLE_MAX_LENGTH, ThreadCreate, ThreadOut
from chatbot_api.cloud.service import THREADS_MAX_PAGE

router = APIRouter(tags=["simple threads"])


class SimpleThreadCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)


class SimpleThread(BaseModel):
    id: str
    title: str | None
    created_at: str = Field(examples=["2026-11-21T10:00:00.000Z"])


class SimpleThreadList(BaseModel):
    threads: list[SimpleThread]


def _simple(thread: ThreadOut) -> SimpleThread:
    return SimpleThread(id=thread.id, title=thread.title, created_at=thread.created_at)


@router.post(
    "/threads",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401),
    summary="Create a thread (its id is the chat id for POST /api/chat)",
)
async def create_thread(
    service: ThreadServiceDep, body: SimpleThreadCreate | None = None
) -> SimpleThread:
    thread_id = await service.create_thread(ThreadCreate(title=body.title if body else None))
    return _simple(await service.get_thread(thread_id))


@router.get(
    "/threads",
    responses=errors(400, 401),
    summary="List the caller's threads, newest first (`after`: the last id of a page)",
)
async def list_threads(
    service: ThreadServiceDep,
    limit: Annotated[int, Query(ge=1, le=THREADS_MAX_PAGE)] = 20,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> SimpleThreadList:
    threads = await service.list_threads(archived=False, limit=limit, after=after)
    return SimpleThreadList(threads=[_simple(thread) for thread in threads])
