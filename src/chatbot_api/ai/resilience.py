"""A model call's retries and fallbacks, before its first event only: once the user has seen
a token nothing is retried (the stream's later errors end it as usual)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

import structlog

from chatbot_api.ai.base import ModelEvent, ModelRequest, Provider, ProviderError

log = structlog.get_logger("chatbot_api.ai")


@dataclass(frozen=True, slots=True)
class Target:
    """One way to answer a model id: a provider and the id it knows the model by."""

    provider: Provider
    provider_name: str
    upstream_model: str
    model_id: str  # the registry id it stands for (a fallback's own id)
    reasoning: bool


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of one target on a retryable failure (connect, 408, 429, 5xx): exponential
    backoff with full jitter, or the provider's Retry-After when it is within `max_delay`."""

    retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds before retry `attempt` (1-based), or None: move on to the next target."""
        if attempt > self.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_delay else None
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


NO_RETRIES = RetryPolicy(retries=0)


async def open_stream(
    targets: Sequence[Target], request: ModelRequest, policy: RetryPolicy
) -> tuple[AsyncIterator[ModelEvent], Target]:
    """The events of the first target that yields one (that first event included), and the
    target. Each target gets `policy`'s retries, then the next is tried; when all fail, the
    first target's error is raised (the model the user chose)."""
    first_error: ProviderError | None = None
    for index, target in enumerate(targets):
        attempt = 0
        while True:
            stream = target.provider.stream(
                replace(
                    request,
                    model=target.upstream_model,
                    reasoning=request.reasoning and target.reasoning,
                )
            )
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                return stream, target  # ended without an event: nothing left to read
            except ProviderError as exc:
                await _close(stream)
                first_error = first_error or exc
                attempt += 1
                delay = policy.delay(attempt, exc.retry_after) if exc.retryable else None
                if delay is None:
                    _log_failure(targets, index, exc)
                    break
                log.warning(
                    "model call retried",
                    model=target.model_id,
                    provider=target.provider_name,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    status=exc.status,
                    error=exc.detail or str(exc),
                )
                await asyncio.sleep(delay)
                continue
            except BaseException:
                await _close(stream)
                raise
            return _chain(first, stream), target
    assert first_error is not None  # targets is never empty
    raise first_error


def _log_failure(targets: Sequence[Target], index: int, exc: ProviderError) -> None:
    target = targets[index]
    following = targets[index + 1] if index + 1 < len(targets) else None
    log.warning(
        "model call failed; falling back" if following else "model call failed",
        model=target.model_id,
        provider=target.provider_name,
        fallback=following.model_id if following else None,
        status=exc.status,
        error=exc.detail or str(exc),
    )


async def _chain(first: ModelEvent, rest: AsyncIterator[ModelEvent]) -> AsyncIterator[ModelEvent]:
    """The first event (read while retrying), then the rest of its stream."""
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await _close(rest)


async def _close(stream: AsyncIterator[ModelEvent]) -> None:
    """Close a provider's stream (an async generator), releasing its HTTP response."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
