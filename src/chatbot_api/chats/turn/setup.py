"""The turn's resources, built in the lifespan: the admission for the database, the reply
saver and its pending replies, the stream log with the recovery of dead workers' turns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatbot_api.ai.registry import ModelRegistry
from chatbot_api.chats.turn.admission import Admission, PortableAdmission
from chatbot_api.chats.turn.admission_pg import PgAdmission
from chatbot_api.chats.turn.deps import TurnDeps, Turns
from chatbot_api.chats.turn.pending import (
    FilePendingReplies,
    PendingReplies,
    RedisPendingReplies,
)
from chatbot_api.chats.turn.recovery import TurnRecovery
from chatbot_api.chats.turn.replies import ReplySaver
from chatbot_api.core.config import Settings
from chatbot_api.core.redis import RedisHealth
from chatbot_api.files.storage import Storage
from chatbot_api.streaming.factory import create_stream_log


@dataclass(slots=True)
class TurnRuntime:
    """The turn's resources and the background task that saves pending replies."""

    deps: TurnDeps
    saving: asyncio.Task[None]

    async def aclose(self) -> None:
        self.saving.cancel()
        await asyncio.gather(self.saving, return_exceptions=True)
        await self.deps.stream_log.aclose()


async def start_turns(
    settings: Settings,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    models: ModelRegistry,
    redis: Redis | None,
    redis_health: RedisHealth,
    http: httpx.AsyncClient,
    storage: Storage | None = None,
) -> TurnRuntime:
    admission: Admission = PortableAdmission(session_factory)
    if engine.dialect.name == "postgresql":
        admission = PgAdmission(engine, admission)
    pending: PendingReplies = FilePendingReplies(settings.data_dir / "pending-replies")
    if redis is not None:
        pending = RedisPendingReplies(redis, settings.redis_key_prefix, pending)
    replies = ReplySaver(session_factory, pending)
    turns = Turns()
    recovery = TurnRecovery(session_factory, replies, turns)
    stream_log = create_stream_log(settings, redis, recovery, redis_health)
    await stream_log.start()
    deps = TurnDeps(
        settings=settings,
        session_factory=session_factory,
        models=models,
        stream_log=stream_log,
        http=http,
        turns=turns,
        admission=admission,
        replies=replies,
        storage=storage,
    )
    return TurnRuntime(deps, asyncio.create_task(replies.run(), name="pending-replies"))
