"""Request dependencies of the chats domain: `OwnedChat` and parameters checked before auth."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query

from chatbot_api.auth.dependencies import ChatUser
from chatbot_api.chats import service
from chatbot_api.chats.models import Chat
from chatbot_api.chats.schemas import VoteIn
from chatbot_api.core.errors import BadRequest
from chatbot_api.db.session import SessionDep

ChatIdPath = Annotated[uuid.UUID, Path(description="The chat id (UUID).")]


async def owned_chat(id: ChatIdPath, user: ChatUser, session: SessionDep) -> Chat:
    """The `{id}` chat, which the caller may change (`service.chat_for`)."""
    return await service.chat_for(session, id, user.id, change=True)


OwnedChat = Annotated[Chat, Depends(owned_chat)]


async def chat_id_query(
    id: Annotated[uuid.UUID | None, Query(description="The chat to delete.")] = None,
) -> uuid.UUID:
    """`?id=` of `DELETE /api/chat`: missing → 400 before auth, as upstream."""
    if id is None:
        raise BadRequest("Parameter id is required.")
    return id


ChatIdQuery = Annotated[uuid.UUID, Depends(chat_id_query)]


async def vote_chat_id_query(
    chat_id: Annotated[uuid.UUID | None, Query(alias="chatId", description="The chat.")] = None,
) -> uuid.UUID:
    if chat_id is None:
        raise BadRequest("Parameter chatId is required.")
    return chat_id


VoteChatIdQuery = Annotated[uuid.UUID, Depends(vote_chat_id_query)]


@dataclass(frozen=True, slots=True)
class HistoryParams:
    limit: int
    starting_after: uuid.UUID | None
    ending_before: uuid.UUID | None


async def history_params(
    limit: Annotated[
        int, Query(ge=1, le=service.HISTORY_MAX_LIMIT, description="Chats per page (1–100).")
    ] = service.HISTORY_DEFAULT_LIMIT,
    starting_after: Annotated[
        uuid.UUID | None, Query(description="A chat id: return the page just newer than it.")
    ] = None,
    ending_before: Annotated[
        uuid.UUID | None, Query(description="A chat id: return the page just older than it.")
    ] = None,
) -> HistoryParams:
    """Both cursors at once → 400 before auth, as upstream."""
    if starting_after is not None and ending_before is not None:
        raise BadRequest(service.BOTH_CURSORS)
    return HistoryParams(limit=limit, starting_after=starting_after, ending_before=ending_before)


HistoryQuery = Annotated[HistoryParams, Depends(history_params)]


@dataclass(frozen=True, slots=True)
class VoteRequest:
    chat_id: uuid.UUID
    message_id: uuid.UUID
    is_upvoted: bool


async def vote_request(body: VoteIn) -> VoteRequest:
    """The `PATCH /api/vote` body: a missing field → 400 before auth, as upstream; ids must be
    UUIDs and `type` must be `up` or `down` (upstream counts any other value as down)."""
    if not (body.chat_id and body.message_id and body.type):
        raise BadRequest("Parameters chatId, messageId, and type are required.")
    if body.type not in ("up", "down"):
        raise BadRequest("type must be 'up' or 'down'.")
    return VoteRequest(
        chat_id=_parse_uuid(body.chat_id, "chatId"),
        message_id=_parse_uuid(body.message_id, "messageId"),
        is_upvoted=body.type == "up",
    )


def _parse_uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(f"{name} must be a UUID.") from None


VoteBody = Annotated[VoteRequest, Depends(vote_request)]
