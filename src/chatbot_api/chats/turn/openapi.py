"""How `POST /api/chat` documents its three body shapes in OpenAPI: the description, and the
`oneOf` schema of the shapes with their definitions inlined."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chatbot_api.chats.turn.bodies import AssistantUIBodyIn, ChatbotBodyIn, SimpleBodyIn

CHAT_BODY_DESCRIPTION = """\
Three body shapes, told apart by their keys (anything else is a 400 `bad_request:api` whose
`cause` lists them):

1. **ai-chatbot**: `{id, message: {id, role, parts}, selectedChatModel,
   selectedVisibilityType}` (a `message` object, or either `selected…` key), including its
   approval continuation (`messages` whose last message is the assistant's or carries an
   approval answer). The chat's stored messages plus the new one are the model's context.
2. **AI SDK default** `{id, messages: [UI messages with parts], trigger, messageId?}`. Plain,
   it behaves like (1): the server's stored history is the context. With any of `system`,
   `tools`, `callSettings`, `config`, `metadata` it is **assistant-ui's
   `AssistantChatTransport` body** and the **client's messages are the context** (bounded:
   1000 messages, 100 parts each, known part types): `system` replaces our system prompt;
   `tools` (`{name: {description?, parameters}}`, at most 64, names
   `^[a-zA-Z0-9_-]{1,64}$`) are offered to the model and **never run here**: their calls stream
   as tool input and the reply finishes with `tool-calls`; send the result back as the tool
   part's `output-available`/`output-error` (a request whose last message is that assistant
   message continues it). Backend tools run as usual (`ASSISTANT_UI_BACKEND_TOOLS`).
   `callSettings.temperature` (clamped to 0–2) and `maxTokens` (capped by
   `MAX_OUTPUT_TOKENS`) apply; `config.modelName` picks a model id; `config.apiKey`/`baseUrl`
   are ignored unless `ALLOW_CLIENT_PROVIDER_CONFIG` is on. `finish.messageMetadata` carries
   `{modelId, usage}`.
3. **Simple** `{"messages": [{"role": "user", "content": "Hello"}], "id"?, "model"?,
   "system"?}`: role/content messages, the client's context; `system` messages join the
   system prompt.

Every shape needs the bearer token, counts against the daily limit and is saved in the chat
`id` (a non-UUID id maps to a stable chat per user; without an id, a new chat). A chat id that
is someone else's chat or assistant-cloud thread is refused (403). The reply (the UI message
stream) runs on even if the client disconnects; resume it with `GET /api/chat/{id}/stream`.
Whatever ends it (done, stop, error, timeout, a worker's death, shutdown), the stream ends
with the open step's `finish-step`, `finish` and `[DONE]`; the reply is saved as streamed."""


def chat_body_schema() -> dict[str, Any]:
    """`oneOf` the three shapes, each with its `$defs` inlined."""
    return {
        "oneOf": [
            {**_inline(ChatbotBodyIn), "title": "ai-chatbot body (or the plain AI SDK default)"},
            {**_inline(AssistantUIBodyIn), "title": "assistant-ui (AssistantChatTransport) body"},
            {**_inline(SimpleBodyIn), "title": "Simple role/content body"},
        ]
    }


def _inline(model: type[BaseModel]) -> dict[str, Any]:
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
