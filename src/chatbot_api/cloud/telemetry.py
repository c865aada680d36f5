"""Rules of runs and telemetry: the title run's checks, run reports, events, scores and
feedback, each tied to a thread the caller owns (anything else is not found)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from chatbot_api.auth.identity import AuthUser
from chatbot_api.cloud import repository as repo
from chatbot_api.cloud.errors import CloudBadRequest, MessageNotFound, ThreadNotFound, parse_id
from chatbot_api.cloud.models import CloudEvent, CloudFeedback, CloudRun, CloudScore
from chatbot_api.cloud.run_schemas import (
    EventBatch,
    FeedbackCreate,
    FeedbackOut,
    RunReport,
    RunStreamRequest,
    ScoreCreate,
    ScoreOut,
)
from chatbot_api.cloud.titles import TITLE_ASSISTANT_ID, TitleRun, title_prompt
from chatbot_api.db.types import utcnow


def _int(value: float | None) -> int | None:
    return None if value is None else min(int(value), 2**31 - 1)


class TelemetryService:
    """One request's runs and telemetry for the caller (no commit)."""

    def __init__(self, session: AsyncSession, user: AuthUser) -> None:
        self.session = session
        self.user = user

    async def _owned_thread_id(self, thread_id: str) -> uuid.UUID:
        parsed = parse_id(thread_id)
        if parsed is None or await repo.get_thread(self.session, self.user.id, parsed) is None:
            raise ThreadNotFound()
        return parsed

    async def _optional_thread_id(self, thread_id: str | None) -> uuid.UUID | None:
        return None if thread_id is None else await self._owned_thread_id(thread_id)

    async def start_title_run(self, body: RunStreamRequest, runner: TitleRun) -> AsyncIterator[str]:
        if body.assistant_id != TITLE_ASSISTANT_ID:
            raise CloudBadRequest(
                f"assistant_id: unknown assistant {body.assistant_id[:64]!r}; "
                f"this server runs only {TITLE_ASSISTANT_ID!r}"
            )
        thread_id = await self._owned_thread_id(body.thread_id)
        return runner.start(self.user.id, thread_id, title_prompt(body.messages))

    async def report_run(self, body: RunReport) -> str:
        run = CloudRun(
            id=uuid.uuid4(),
            user_id=self.user.id,
            thread_id=await self._owned_thread_id(body.thread_id),
            status=body.status,
            model_id=body.model_id,
            input_tokens=body.input_tokens,
            output_tokens=body.output_tokens,
            duration_ms=_int(body.duration_ms),
            report=body.model_dump(mode="json", exclude_none=True),
            created_at=utcnow(),
        )
        await repo.add(self.session, run)
        return str(run.id)

    async def track_events(self, batch: EventBatch) -> int:
        wanted = {event.thread_id for event in batch.events if event.thread_id is not None}
        parsed = {value: parse_id(value) for value in wanted}
        ids = [value for value in parsed.values() if value is not None]
        owned = await repo.owned_thread_ids(self.session, self.user.id, ids) if ids else set()
        if any(value not in owned for value in parsed.values()):
            raise ThreadNotFound()
        now = utcnow()
        rows = [
            CloudEvent(
                id=uuid.uuid4(),
                user_id=self.user.id,
                kind=event.kind,
                thread_id=parsed[event.thread_id] if event.thread_id is not None else None,
                message_id=event.message_id,
                run_id=event.run_id,
                value=event.value,
                props=event.props,
                created_at=now,
            )
            for event in batch.events
        ]
        await repo.add_all(self.session, rows)
        return len(rows)

    async def create_score(self, body: ScoreCreate) -> ScoreOut:
        value = None if body.data_type == "categorical" else body.value
        score = CloudScore(
            id=uuid.uuid4(),
            user_id=self.user.id,
            name=body.name,
            data_type=body.data_type,
            value=value,
            string_value=body.string_value,
            comment=body.comment,
            thread_id=await self._optional_thread_id(body.thread_id),
            message_id=body.message_id,
            run_id=body.run_id,
            created_at=utcnow(),
        )
        await repo.add(self.session, score)
        return ScoreOut(
            score_id=str(score.id),
            name=score.name,
            data_type=score.data_type,
            value=score.value,
            string_value=score.string_value,
        )

    async def give_feedback(
        self, thread_id: str, message_id: str, body: FeedbackCreate
    ) -> FeedbackOut:
        thread = await self._owned_thread_id(thread_id)
        parsed = parse_id(message_id)
        message = await repo.get_message(self.session, thread, parsed) if parsed else None
        if message is None:
            raise MessageNotFound()
        feedback = CloudFeedback(
            id=uuid.uuid4(),
            message_id=message.id,
            user_id=self.user.id,
            type=body.type,
            comment=body.comment,
            created_at=utcnow(),
        )
        await repo.add(self.session, feedback)
        return FeedbackOut(
            feedback_id=str(feedback.id), type=feedback.type, comment=feedback.comment
        )
