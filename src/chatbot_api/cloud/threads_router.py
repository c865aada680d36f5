"""HTTP routes of `/v1/threads`: threads, their messages and claims (the cloud client's API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from chatbot_api.cloud.dependencies import ThreadServiceDep, body_limit, errors
from chatbot_api.cloud.schemas import (
    ClaimRequest,
    ClaimResult,
    MessageCreate,
    MessageCreated,
    MessageList,
    MessageUpdate,
    ThreadCreate,
    ThreadCreated,
    ThreadEnvelope,
    ThreadList,
    ThreadUpdate,
)
from chatbot_api.cloud.service import MAX_CONTENT_BYTES, MESSAGES_MAX_PAGE, THREADS_MAX_PAGE

router = APIRouter(tags=["assistant cloud: threads"])

MESSAGE_BODY_LIMIT = body_limit(MAX_CONTENT_BYTES + 64 * 1024)
THREAD_BODY_LIMIT = body_limit(64 * 1024)


@router.get("/threads", responses=errors(400, 401), summary="List the caller's threads")
async def list_threads(
    service: ThreadServiceDep,
    limit: Annotated[int, Query(ge=1, le=THREADS_MAX_PAGE)] = 20,
    after: Annotated[
        str | None, Query(max_length=64, description="Last id of the previous page")
    ] = None,
    is_archived: Annotated[bool, Query(description="Archived threads instead of active")] = False,
) -> ThreadList:
    threads = await service.list_threads(archived=is_archived, limit=limit, after=after)
    return ThreadList(threads=threads)


@router.post(
    "/threads",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 413),
    dependencies=[THREAD_BODY_LIMIT],
    summary="Create a thread",
)
async def create_thread(body: ThreadCreate, service: ThreadServiceDep) -> ThreadCreated:
    return ThreadCreated(thread_id=await service.create_thread(body))


@router.post(
    "/threads/claim",
    responses=errors(400, 401, 403),
    summary="Move an anonymous identity's threads (by its refresh token) to the caller",
)
async def claim_threads(body: ClaimRequest, service: ThreadServiceDep) -> ClaimResult:
    return ClaimResult(moved=await service.claim(body.refresh_token))


@router.get("/threads/{thread_id}", responses=errors(401, 404), summary="Read one thread")
async def get_thread(thread_id: str, service: ThreadServiceDep) -> ThreadEnvelope:
    return ThreadEnvelope(thread=await service.get_thread(thread_id))


@router.put(
    "/threads/{thread_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 404, 413),
    dependencies=[THREAD_BODY_LIMIT],
    summary="Update a thread (title, metadata, archive state, last_message_at)",
)
async def update_thread(thread_id: str, body: ThreadUpdate, service: ThreadServiceDep) -> None:
    await service.update_thread(thread_id, body)


@router.delete(
    "/threads/{thread_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 404),
    summary="Delete a thread and its messages",
)
async def delete_thread(thread_id: str, service: ThreadServiceDep) -> None:
    await service.delete_thread(thread_id)


@router.get(
    "/threads/{thread_id}/messages",
    responses=errors(400, 401, 404),
    summary="List a thread's messages, newest first",
)
async def list_messages(
    thread_id: str,
    service: ThreadServiceDep,
    format: Annotated[str | None, Query(max_length=64, examples=["ai-sdk/v6"])] = None,
    limit: Annotated[int | None, Query(ge=1, le=MESSAGES_MAX_PAGE)] = None,
    after: Annotated[str | None, Query(max_length=64, description="Older than this id")] = None,
) -> MessageList:
    messages = await service.list_messages(thread_id, format=format, limit=limit, after=after)
    return MessageList(messages=messages)


@router.post(
    "/threads/{thread_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 404, 413),
    dependencies=[MESSAGE_BODY_LIMIT],
    summary="Append a message",
)
async def create_message(
    thread_id: str, body: MessageCreate, service: ThreadServiceDep
) -> MessageCreated:
    return MessageCreated(message_id=await service.create_message(thread_id, body))


@router.put(
    "/threads/{thread_id}/messages/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 404, 413),
    dependencies=[MESSAGE_BODY_LIMIT],
    summary="Replace a message's content",
)
async def update_message(
    thread_id: str, message_id: str, body: MessageUpdate, service: ThreadServiceDep
) -> None:
    await service.update_message(thread_id, message_id, body.content)
