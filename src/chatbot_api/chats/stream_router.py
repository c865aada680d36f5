"""HTTP routes of a chat turn: `POST /api/chat` (stream a reply), resume and stop."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from chatbot_api.ai.prompts import RequestHints
from chatbot_api.ai.registry import ModelRegistry
from chatbot_api.auth.dependencies import ChatUser, authenticate
from chatbot_api.chats import turn_service
from chatbot_api.chats.chat_request import ChatRequest
from chatbot_api.chats.client_turn import ClientTurn, parse_chat_body
from chatbot_api.chats.client_turn_service import start_client_turn
from chatbot_api.chats.client_turn_spec import CHAT_BODY_DESCRIPTION, chat_body_schema
from chatbot_api.chats.dependencies import ChatIdPath
from chatbot_api.chats.turn import TurnDeps
from chatbot_api.core.schemas import ErrorEnvelope
from chatbot_api.streaming.log import StreamLog
from chatbot_api.streaming.response import LogStreamResponse

router = APIRouter(tags=["chat"])

_ERRORS = {
    400: "Bad input (`bad_request:api` naming the field), or an unknown model id",
    401: "Nobody is signed in (`unauthorized:chat`)",
    403: "The chat belongs to another user (`forbidden:chat`)",
    404: "No such chat (`not_found:chat`)",
    429: "The daily message limit is reached (`rate_limit:chat`, with Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorEnvelope, "description": _ERRORS[code]} for code in statuses}


_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The UI message stream (SSE, `x-vercel-ai-ui-message-stream: v1`).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


async def chat_request(request: Request) -> ChatRequest | ClientTurn:
    """The body, parsed as JSON whatever its Content-Type; 400 before authentication."""
    return parse_chat_body(await request.body())


async def turn_deps(request: Request) -> TurnDeps:
    state = request.app.state
    return TurnDeps(
        settings=state.settings,
        session_factory=state.session_factory,
        models=state.models,
        stream_log=state.stream_log,
        http=state.http,
        tasks=state.turn_tasks,
    )


async def model_registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.models
    return registry


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


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined (OpenAPI resolves refs globally)."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            # A discriminator's mapping points into `$defs`; `oneOf` alone says the same.
            return {k: inline(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


@dataclass(frozen=True, slots=True)
class TurnContext:
    deps: TurnDeps
    registry: ModelRegistry
    hints: RequestHints


async def turn_context(request: Request) -> TurnContext:
    """What a turn needs from the app and the request, as one dependency (FastAPI's cost is
    per dependency, on the path to the first token)."""
    return TurnContext(
        deps=await turn_deps(request),
        registry=await model_registry(request),
        hints=await request_hints(request),
    )


ChatBody = Annotated[ChatRequest | ClientTurn, Depends(chat_request)]
Deps = Annotated[TurnDeps, Depends(turn_deps)]
Context = Annotated[TurnContext, Depends(turn_context)]


def ui_stream(stream_log: StreamLog, stream_key: str) -> LogStreamResponse:
    """Tail the stream log; a client that goes away just stops reading."""
    return LogStreamResponse(stream_log, stream_key)


class ChatTurnRoute(APIRoute):
    """`POST /api/chat` on the path to the first token: its handler resolves the endpoint's
    three inputs directly, in the order FastAPI would (the body, so a bad one is a 400 before
    authentication; the caller; the app context), instead of through FastAPI's per-request
    dependency solving (~0.1 ms here). Everything else is the framework's as for any route:
    the middleware, the error handlers, and the OpenAPI operation from `post_chat`'s
    signature."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(request: Request) -> Response:
            body = await chat_request(request)
            user = await authenticate(request, "chat")
            return await post_chat(body, user, await turn_context(request))

        return handler


async def post_chat(body: ChatBody, user: ChatUser, context: Context) -> LogStreamResponse:
    deps, registry, hints = context.deps, context.registry, context.hints
    if isinstance(body, ClientTurn):
        stream_key = await start_client_turn(deps, registry, user, body, hints)
    else:
        stream_key = await turn_service.start_turn(deps, registry, user, body, hints)
    return ui_stream(deps.stream_log, stream_key)


def add_chat_turn_route(app_router: APIRouter, prefix: str) -> None:
    """`POST {prefix}/chat`, on the app's own router rather than an included one: FastAPI
    matches included routers through per-request lookups of their routes (~13 µs more per
    request, measured), and this is the route on the path to the first token."""
    app_router.add_api_route(
        f"{prefix}/chat",
        post_chat,
        methods=["POST"],
        route_class_override=ChatTurnRoute,
        tags=["chat"],
        summary="Send a message (or answer a tool approval) and stream the reply",
        description=CHAT_BODY_DESCRIPTION,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": chat_body_schema(_inline_schema)}},
            }
        },
        response_class=StreamingResponse,
        responses={**_SSE_RESPONSE, **error_responses(400, 401, 403, 404, 429)},
    )


@router.get(
    "/chat/{id}/stream",
    summary="Resume the chat's live reply from its start",
    description="204 when nothing is live. Public chats of other users may be resumed.",
    response_class=StreamingResponse,
    responses={
        **_SSE_RESPONSE,
        204: {"description": "Nothing is live."},
        **error_responses(401, 403, 404),
    },
)
async def resume_chat_stream(id: ChatIdPath, user: ChatUser, deps: Deps) -> Response:
    stream_key = await turn_service.live_stream(deps, user, id)
    if stream_key is None:
        return Response(status_code=204)
    return ui_stream(deps.stream_log, stream_key)


@router.post(
    "/chat/{id}/stop",
    summary="Stop the chat's live reply (what was produced is saved)",
    responses=error_responses(401, 403, 404),
)
async def stop_chat(id: ChatIdPath, user: ChatUser, deps: Deps) -> dict[str, bool]:
    return {"stopped": await turn_service.stop_turn(deps, user, id)}
