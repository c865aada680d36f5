"""HTTP routes of the chats domain: history, one chat, its messages and visibility, votes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from chatbot_api.auth.dependencies import ChatUser, VoteUser
from chatbot_api.chats import service
from chatbot_api.chats.dependencies import (
    ChatIdPath,
    ChatIdQuery,
    HistoryQuery,
    OwnedChat,
    VoteBody,
    VoteChatIdQuery,
)
from chatbot_api.chats.schemas import (
    ChatOut,
    ChatWithMessages,
    DeletedCount,
    HistoryPage,
    VisibilityUpdate,
    VoteOut,
    chat_out,
    chat_view_json,
    error_responses,
)
from chatbot_api.db.session import SessionDep

router = APIRouter(tags=["chats"])


@router.get(
    "/history",
    summary="A page of the caller's chats, newest first",
    description=(
        "Keyset pagination on (createdAt, id): equal timestamps are neither skipped nor "
        "repeated. `ending_before=<chatId>` gives the next older page (what the ai-chatbot "
        "sidebar uses), `starting_after=<chatId>` the page just newer than that chat. A cursor "
        "must be one of the caller's chats. `hasMore` says whether more chats exist beyond "
        "this page in its direction."
    ),
    responses=error_responses(400, 401),
)
async def get_history(params: HistoryQuery, user: ChatUser, session: SessionDep) -> HistoryPage:
    result = await service.history_page(
        session,
        user.id,
        limit=params.limit,
        starting_after=params.starting_after,
        ending_before=params.ending_before,
    )
    return HistoryPage(chats=[chat_out(chat) for chat in result.chats], has_more=result.has_more)


@router.delete(
    "/history",
    summary="Delete all of the caller's chats",
    description="With their messages, votes and streams; documents and suggestions stay.",
    responses=error_responses(401),
)
async def delete_history(user: ChatUser, session: SessionDep) -> DeletedCount:
    return DeletedCount(deleted_count=await service.delete_history(session, user.id))


@router.delete(
    "/chat",
    summary="Delete one of the caller's chats",
    description="Deletes the chat with its messages, votes and streams; returns the deleted chat.",
    responses=error_responses(400, 401, 403, 404),
)
async def delete_chat(chat_id: ChatIdQuery, user: ChatUser, session: SessionDep) -> ChatOut:
    return chat_out(await service.delete_chat(session, chat_id, user.id))


@router.get(
    "/chat/{id}",
    response_model=ChatWithMessages,
    summary="A chat with its messages (the /chat/{id} page data)",
    description=(
        "The owner always gets it (`isReadonly: false`); another user gets a public chat "
        "read-only (`isReadonly: true`); someone else's private chat answers 404."
    ),
    responses=error_responses(400, 401, 404),
)
async def get_chat(id: ChatIdPath, user: ChatUser, session: SessionDep) -> Response:
    view = await service.view_chat(session, id, user.id)
    body = chat_view_json(view.chat, view.messages, is_readonly=view.is_readonly)
    return Response(body, media_type="application/json")


@router.patch(
    "/chat/{id}/visibility",  # noqa: FAST003 - `id` is read by OwnedChat
    summary="Make the caller's chat public or private",
    description="Owner only; returns the updated chat.",
    responses=error_responses(400, 401, 403, 404),
)
async def update_visibility(
    chat: OwnedChat, body: VisibilityUpdate, session: SessionDep
) -> ChatOut:
    return chat_out(await service.set_visibility(session, chat, body.visibility))


@router.delete(
    "/chat/{id}/messages",  # noqa: FAST003 - `id` is read by OwnedChat
    summary="Delete a message and every later one (the 'edit message' action)",
    description=(
        "Owner only. Deletes the message `after` and every message of the chat created at or "
        "after it, with their votes, and answers 200 `{deletedCount}`. The edited message can "
        "then be re-posted with the same id. 404 when `after` is not a message of this chat."
    ),
    responses=error_responses(400, 401, 403, 404),
)
async def delete_trailing_messages(
    chat: OwnedChat,
    after: Annotated[uuid.UUID, Query(description="The id of the first message to delete.")],
    session: SessionDep,
) -> DeletedCount:
    return DeletedCount(deleted_count=await service.delete_messages_from(session, chat, after))


@router.get(
    "/vote",
    summary="The votes of a chat",
    description="For the chat's owner, or for anyone signed in when the chat is public.",
    responses=error_responses(400, 401, 403, 404),
)
async def get_votes(chat_id: VoteChatIdQuery, user: VoteUser, session: SessionDep) -> list[VoteOut]:
    votes = await service.get_votes(session, chat_id, user.id)
    return [VoteOut.model_validate(vote) for vote in votes]


@router.patch(
    "/vote",
    summary="Up- or down-vote a message of the caller's chat",
    description=(
        "Body `{chatId, messageId, type}` as JSON (also when sent as text/plain). Stricter "
        "than upstream: `type` must be `up` or `down` (upstream stores any other value as a "
        "down-vote), and the message must belong to the chat (404 `not_found:vote`). Voting "
        "again replaces the earlier vote."
    ),
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"example": "Message voted"}}},
        **error_responses(400, 401, 403, 404),
    },
)
async def vote(body: VoteBody, user: VoteUser, session: SessionDep) -> PlainTextResponse:
    await service.vote_message(
        session,
        user.id,
        chat_id=body.chat_id,
        message_id=body.message_id,
        is_upvoted=body.is_upvoted,
    )
    return PlainTextResponse("Message voted")
