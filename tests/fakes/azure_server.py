"""A fake Azure OpenAI resource: the OpenAI fake behind Azure's URLs, auth and annotations.

    with FakeAzureOpenAIServer(api_key="k", deployments={"gpt4o-prod"}) as azure:
        azure.queue(stream_reply(azure_text_stream(["Hel", "lo"])))
        provider = AzureOpenAIProvider(http, azure.endpoint, api_key="k")
        ...
        azure.requests[0].path      # "/openai/deployments/gpt4o-prod/chat/completions?api-…"

Every request is checked first, as Azure does: the path (`/openai/deployments/{deployment}/
chat/completions` with an `api-version` query, or `/openai/v1/chat/completions`), the
`api-version`, the `api-key` header or the Entra ID bearer token, and the deployment (in the
path, or `model` in a v1 body). A request that fails a check gets Azure's error for it (401,
404 `DeploymentNotFound`, 404 resource not found) and is listed in `rejected`; the others
get the queued replies in order, then `default(request)`.

Chunks look like Azure's: a first chunk with empty `choices` and `prompt_filter_results`,
then choices carrying `content_filter_results`, usage last (`stream_options.include_usage`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.fakes.http import Handler, RecordedRequest, Reply, json_reply
from tests.fakes.openai_server import KeepAliveServer, stream_reply, usage_chunk

API_VERSION = "2024-10-21"
V1_PATH = "/openai/v1/chat/completions"
DEPLOYMENTS = "/openai/deployments/"
CATEGORIES = ("hate", "self_harm", "sexual", "violence")


def filter_results(filtered: str | None = None, severity: str = "medium") -> dict[str, Any]:
    """`content_filter_results`: every category safe, or `filtered` caught at `severity`."""
    return {
        name: {"filtered": True, "severity": severity}
        if name == filtered
        else {"filtered": False, "severity": "safe"}
        for name in CATEGORIES
    }


def prompt_filter_chunk() -> dict[str, Any]:
    """The stream's first chunk: no choices, the prompt's filter verdict."""
    return {"choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": [
                {"prompt_index": 0, "content_filter_results": filter_results()}]}  # fmt: skip


def azure_chunk(
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    filtered: str | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` as Azure sends it, its choice annotated by the filter."""
    choice: dict[str, Any] = {
        "content_filter_results": {} if delta and delta.get("role") else filter_results(filtered),
        "delta": delta or {},
        "finish_reason": finish_reason,
        "index": 0,
        "logprobs": None,
    }
    return {"choices": [choice], "created": 1_736_407_895, "id": "chatcmpl-AzFake",
            "model": "gpt-4o-2024-08-06", "object": "chat.completion.chunk",
            "system_fingerprint": "fp_azfake"}  # fmt: skip


def annotation_chunk() -> dict[str, Any]:
    """An asynchronous filter's annotation: a choice without delta, with offsets."""
    choice = {
        "index": 0,
        "finish_reason": None,
        "content_filter_results": filter_results(),
        "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 9},
    }
    return {"choices": [choice], "created": 0, "id": "", "model": "", "object": ""}  # fmt: skip


def azure_text_stream(
    pieces: Iterable[str],
    *,
    finish: str = "stop",
    filtered: str | None = None,
    usage: tuple[int, int] | None = (10, 20),
    cached: int | None = None,
    reasoning: int | None = None,
) -> list[dict[str, Any]]:
    """prompt_filter_results, the role chunk, content chunks, the finish chunk (`filtered`:
    the category that ended it), an annotation, and a usage chunk."""
    events = [prompt_filter_chunk(), azure_chunk({"role": "assistant", "content": ""})]
    events += [azure_chunk({"content": piece}) for piece in pieces]
    events.append(azure_chunk(finish_reason=finish, filtered=filtered))
    events.append(annotation_chunk())
    if usage is not None:
        events.append(usage_chunk(*usage, cached=cached, reasoning=reasoning))
    return events


def azure_tool_call(call_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    """A tool call streamed in two chunks (id + name, then the arguments) and its finish."""
    first = {"index": 0, "id": call_id, "type": "function",
             "function": {"name": name, "arguments": ""}}  # fmt: skip
    rest = {"index": 0, "function": {"arguments": arguments}}
    return [prompt_filter_chunk(), azure_chunk({"role": "assistant", "tool_calls": [first]}),
            azure_chunk({"tool_calls": [rest]}), azure_chunk(finish_reason="tool_calls"),
            usage_chunk(30, 12)]  # fmt: skip


def azure_error(http_status: int, code: str, message: str, **fields: Any) -> Reply:
    """Azure's error body, `{"error": {"code", "message", …}}`; `headers` for the response."""
    headers = fields.pop("headers", {})
    reply = json_reply(http_status, {"error": {"code": code, "message": message, **fields}})
    reply.headers.update(headers)
    return reply


def prompt_filtered_reply(message: str) -> Reply:
    """The 400 Azure answers when the prompt trips the content filter."""
    verdict = {**filter_results("violence", "high"), "jailbreak": {"filtered": False}}
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": verdict}
    return azure_error(
        400, "content_filter", message, param="prompt", type=None, status=400, innererror=inner
    )


def rate_limited_reply(seconds: int) -> Reply:
    """Azure's 429: the wait in the message and in `retry-after` / `retry-after-ms`."""
    message = (
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        f"{API_VERSION} have exceeded token rate limit of your current pricing tier. "
        f"Please retry after {seconds} seconds."
    )
    headers = {"retry-after": str(seconds), "retry-after-ms": str(seconds * 1000)}
    return azure_error(429, "429", message, headers=headers)


def _text_reply(request: RecordedRequest) -> Reply:
    return stream_reply(azure_text_stream(["Hello ", "from ", "Azure."]))


class FakeAzureOpenAIServer(KeepAliveServer):
    """An Azure OpenAI resource with these deployments and one way in (key or token)."""

    def __init__(
        self,
        default: Handler | Reply | None = None,
        *,
        deployments: Iterable[str] = ("gpt-4o",),
        api_key: str | None = None,
        ad_token: str | None = None,
        api_version: str = API_VERSION,
    ) -> None:
        super().__init__(default or _text_reply)
        self.deployments = set(deployments)
        self.api_key = api_key
        self.ad_token = ad_token
        self.api_version = api_version
        self.rejected: list[tuple[RecordedRequest, int]] = []  # with the status they got

    @property
    def endpoint(self) -> str:
        """What AZURE_OPENAI_ENDPOINT holds: the resource's origin."""
        return self.origin

    def reply_for(self, request: RecordedRequest) -> Reply:
        refusal = self._check(request)
        if refusal is not None:
            self.rejected.append((request, refusal.status))
            return refusal
        return super().reply_for(request)

    def _check(self, request: RecordedRequest) -> Reply | None:
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if request.method != "POST":
            return azure_error(404, "404", "Resource not found")
        if url.path == V1_PATH:
            deployment = orjson.loads(request.body).get("model") if request.body else None
            if query.get("api-version") not in (None, ["v1"], ["preview"]):
                return azure_error(400, "BadRequest", "API version not supported")
        else:
            prefix, _, rest = url.path.partition(DEPLOYMENTS)
            deployment, _, tail = rest.partition("/")
            if prefix or tail != "chat/completions":
                return azure_error(404, "404", "Resource not found")
            if query.get("api-version") != [self.api_version]:
                return azure_error(404, "404", "Resource not found")
        if not self._authorized(request):
            return azure_error(
                401, "401", "Access denied due to invalid subscription key or wrong API "
                "endpoint. Make sure to provide a valid key for an active subscription and "
                "use a correct regional API endpoint for your resource.",
            )  # fmt: skip
        if deployment not in self.deployments:
            return azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not "
                "exist. If you created the deployment within the last 5 minutes, please wait "
                "a moment and try again.",
            )  # fmt: skip
        return None

    def _authorized(self, request: RecordedRequest) -> bool:
        key = request.headers.get("api-key")
        bearer = request.headers.get("authorization")
        if self.api_key is not None and key == self.api_key:
            return True
        return self.ad_token is not None and bearer == f"Bearer {self.ad_token}"
