"""HTTP routes of runs and telemetry: the title run stream, run reports, events, scores and
message feedback."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from chatbot_api.cloud.dependencies import TelemetryServiceDep, TitleRunDep, body_limit, errors
from chatbot_api.cloud.run_schemas import (
    EventBatch,
    EventsAccepted,
    FeedbackCreate,
    FeedbackOut,
    RunReport,
    RunReportCreated,
    RunStreamRequest,
    ScoreCreate,
    ScoreOut,
)

router = APIRouter(tags=["assistant cloud: runs and telemetry"])

TELEMETRY_BODY_LIMIT = body_limit(1024 * 1024)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post(
    "/runs/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The title, streamed as plain text"},
        **errors(400, 401, 404, 413),
    },
    dependencies=[body_limit(2 * 1024 * 1024)],
    summary="Run `system/thread_title`: stream a short title and save it on the thread",
)
async def stream_run(
    body: RunStreamRequest, service: TelemetryServiceDep, runner: TitleRunDep
) -> StreamingResponse:
    chunks = await service.start_title_run(body, runner)
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8", headers=STREAM_HEADERS)


@router.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 404, 413),
    dependencies=[TELEMETRY_BODY_LIMIT],
    summary="Store a run report (client telemetry)",
)
async def report_run(body: RunReport, service: TelemetryServiceDep) -> RunReportCreated:
    return RunReportCreated(run_id=await service.report_run(body))


@router.post(
    "/events",
    responses=errors(400, 401, 404, 413),
    dependencies=[TELEMETRY_BODY_LIMIT],
    summary="Store up to 50 engagement events",
)
async def track_events(body: EventBatch, service: TelemetryServiceDep) -> EventsAccepted:
    return EventsAccepted(accepted=await service.track_events(body))


@router.post(
    "/scores",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 404),
    dependencies=[TELEMETRY_BODY_LIMIT],
    summary="Record a score",
)
async def create_score(body: ScoreCreate, service: TelemetryServiceDep) -> ScoreOut:
    return await service.create_score(body)


@router.post(
    "/threads/{thread_id}/messages/{message_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 404),
    dependencies=[TELEMETRY_BODY_LIMIT],
    summary="Give a message a thumbs up or down",
)
async def give_feedback(
    thread_id: str, message_id: str, body: FeedbackCreate, service: TelemetryServiceDep
) -> FeedbackOut:
    return await service.give_feedback(thread_id, message_id, body)
