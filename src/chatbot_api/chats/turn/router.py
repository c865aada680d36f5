"""HTTP routes of a chat turn: `POST /api/chat` (stream a reply), resume and stop."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from chatbot_api.ai.prompts import RequestHints
from chatbot_api.auth.dependencies import ChatUser
from chatbot_api.chats.dependencies import ChatIdPath
from chatbot_api.chats.schemas import error_responses
from chatbot_api.chats.turn import service
from chatbot_api.chats.turn.deps import TurnDeps
from chatbot_api.chats.turn.openapi import CHAT_BODY_DESCRIPTION, chat_body_schema
from chatbot_api.chats.turn.request import TurnRequest, parse_turn_request
from chatbot_api.streaming.response import LogStreamResponse

router = APIRouter(tags=["chat"])

_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The UI message stream (SSE, `x-vercel-ai-ui-message-stream: v1`).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


async def turn_request(request: Request) -> TurnRequest:
    """The body, parsed as JSON whatever its Content-Type; a bad one is a 400 before
    authentication (the parameter comes first)."""
    settings = request.app.state.settings
    body = await request.body()
    return parse_turn_request(body, any_file_type=settings.allow_document_attachments)


async def turn_deps(request: Request) -> TurnDeps:
    deps: TurnDeps = request.app.state.turn_deps
    return deps


async def request_hints(request: Request) -> RequestHints:
    """Where the request comes from, per the Vercel edge's geo headers (absent: unknown)."""
    headers = request.headers

    def header(name: str) -> str | None:
        value = headers.get(name)
        return unquote(value)[:100] if value else None

    return RequestHints(
        latitude=header("x-vercel-ip-latitude"),
        longitude=header("x-vercel-ip-longitude"),
        city=header("x-vercel-ip-city"),
        country=header("x-vercel-ip-country"),
    )


Body = Annotated[TurnRequest, Depends(turn_request)]
Deps = Annotated[TurnDeps, Depends(turn_deps)]
Hints = Annotated[RequestHints, Depends(request_hints)]


@router.post(
    "/chat",
    summary="Send a message (or answer a tool approval) and stream the reply",
    description=CHAT_BODY_DESCRIPTION,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": chat_body_schema()}},
        }
    },
    response_class=StreamingResponse,
    responses={**_SSE_RESPONSE, **error_responses(400, 401, 403, 404, 429, 503)},
)
async def post_chat(body: Body, user: ChatUser, deps: Deps, hints: Hints) -> Response:
    stream_id = await service.start_turn(deps, user, body, hints)
    return LogStreamResponse(deps.stream_log, stream_id)


@router.get(
    "/chat/{id}/stream",
    summary="Resume the chat's live reply from its start",
    description=(
        "204 when nothing is live. Public chats of other users may be resumed; someone "
        "else's private chat is a 404, as a missing one."
    ),
    response_class=StreamingResponse,
    responses={
        **_SSE_RESPONSE,
        204: {"description": "Nothing is live."},
        **error_responses(401, 404),
    },
)
async def resume_chat_stream(id: ChatIdPath, user: ChatUser, deps: Deps) -> Response:
    stream_id = await service.live_stream(deps, user, id)
    if stream_id is None:
        return Response(status_code=204)
    return LogStreamResponse(deps.stream_log, stream_id)


@router.post(
    "/chat/{id}/stop",
    summary="Stop the chat's live reply (what was produced is saved)",
    description="The chat's owner only: a public chat of someone else is a 403.",
    responses=error_responses(401, 403, 404),
)
async def stop_chat(id: ChatIdPath, user: ChatUser, deps: Deps) -> dict[str, bool]:
    return {"stopped": await service.stop_turn(deps, user, id)}
