"""The rules of chats, history, messages and votes: who may read or change what."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.chats import repository
from chatbot_api.chats.models import Chat, Vote
from chatbot_api.core.errors import AppError, BadRequest

HISTORY_DEFAULT_LIMIT = 10
HISTORY_MAX_LIMIT = 100
BOTH_CURSORS = "Only one of starting_after or ending_before can be provided."


class MessageNotFound(AppError):
    code = "not_found:api"


@dataclass(frozen=True, slots=True)
class HistoryResult:
    chats: list[Chat]
    has_more: bool


@dataclass(frozen=True, slots=True)
class ChatView:
    chat: Chat
    messages: Sequence[repository.MessageText]
    is_readonly: bool


# --- chats ---------------------------------------------------------------------------------


async def chat_for(
    session: AsyncSession,
    chat_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    change: bool,
    surface: str = "chat",
    lock: bool = False,
) -> Chat:
    """The chat, as this user may use it: the one ownership rule of every route. A chat the
    user may not see (missing, or someone else's private chat) is the same 404
    `not_found:<surface>`, so no answer tells whether it exists; a public chat of someone else
    may be read, and changing it is a 403 `forbidden:<surface>`. `lock` holds the row
    (PostgreSQL) until the transaction ends."""
    chat = await repository.get_chat(session, chat_id, lock=lock)
    if chat is None or (chat.user_id != user_id and chat.visibility != "public"):
        raise AppError(code=f"not_found:{surface}")
    if change and chat.user_id != user_id:
        raise AppError(code=f"forbidden:{surface}")
    return chat


async def view_chat(session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID) -> ChatView:
    """A chat with its messages (oldest first) as the `/chat/{id}` page shows it."""
    chat = await chat_for(session, chat_id, user_id, change=False)
    messages = await repository.get_message_texts(session, chat.id)
    return ChatView(chat=chat, messages=messages, is_readonly=chat.user_id != user_id)


async def delete_chat(session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID) -> Chat:
    """Delete the user's chat with everything in it; returns the deleted row."""
    chat = await chat_for(session, chat_id, user_id, change=True, lock=True)
    await repository.delete_chat(session, chat.id)
    return chat


async def set_visibility(session: AsyncSession, chat: Chat, visibility: str) -> Chat:
    """Make the chat public or private; the caller has checked ownership (`chat_for`)."""
    if visibility not in ("public", "private"):
        raise BadRequest("visibility must be 'public' or 'private'.")
    return await repository.set_visibility(session, chat, visibility)


# --- history -------------------------------------------------------------------------------


async def history_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int = HISTORY_DEFAULT_LIMIT,
    starting_after: uuid.UUID | None = None,
    ending_before: uuid.UUID | None = None,
) -> HistoryResult:
    """A page of the user's chats, newest first.

    `ending_before`: the page just older than that chat; `starting_after`: the page just newer
    (adjacent, not the newest). A cursor must be one of the user's own chats.
    """
    if starting_after is not None and ending_before is not None:
        raise BadRequest(BOTH_CURSORS)
    if not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {HISTORY_MAX_LIMIT}.")
    cursor_id = starting_after or ending_before
    direction: Literal["older", "newer"] = "newer" if starting_after is not None else "older"
    chats, has_more = await repository.list_user_chats(
        session, user_id, limit=limit, cursor_id=cursor_id, direction=direction
    )
    # The page query finds the cursor among the user's chats itself; only an empty page
    # needs a second look, to tell "nothing beyond this chat" from "not one of your chats".
    if (
        cursor_id is not None
        and not chats
        and not await repository.user_chat_exists(session, user_id, cursor_id)
    ):
        name = "starting_after" if starting_after is not None else "ending_before"
        raise BadRequest(f"{name} must be the id of one of your chats.")
    return HistoryResult(chats=chats, has_more=has_more)


async def delete_history(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Delete all of the user's chats (votes, messages, streams, legacy rows); documents and
    suggestions stay. Returns how many chats went."""
    chat_ids = await repository.lock_user_chat_ids(session, user_id)
    if not chat_ids:
        return 0
    return await repository.delete_chats(session, chat_ids)


# --- messages ------------------------------------------------------------------------------


async def delete_messages_from(session: AsyncSession, chat: Chat, message_id: uuid.UUID) -> int:
    """ "Edit message": delete that message of the chat and every later one, with their votes.

    The caller has already checked that the user owns `chat`.
    """
    if not await repository.chat_message_exists(session, chat.id, message_id):
        raise MessageNotFound(f"Message {message_id} is not in chat {chat.id}.")
    return await repository.delete_messages_from(session, chat.id, message_id)


# --- votes ---------------------------------------------------------------------------------


async def get_votes(session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID) -> list[Vote]:
    """The chat's votes: for anyone who may read the chat (its owner; anyone, when public)."""
    chat = await chat_for(session, chat_id, user_id, change=False)
    return await repository.get_votes(session, chat.id)


async def vote_message(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    is_upvoted: bool,
) -> None:
    """Up- or down-vote a message of the user's chat (one vote per message, last one wins)."""
    chat = await chat_for(session, chat_id, user_id, change=True, surface="vote")
    if not await repository.chat_message_exists(session, chat.id, message_id):
        raise AppError(f"Message {message_id} is not in chat {chat.id}.", code="not_found:vote")
    await repository.upsert_vote(session, chat.id, message_id, is_upvoted=is_upvoted)
