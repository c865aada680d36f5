"""Wire models of runs and telemetry: the title run, run reports, events, scores, feedback."""

from __future__ import annotations

import math
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field, field_validator, model_validator

from chatbot_api.cloud.schemas import ID_MAX_LENGTH, CloudRequest, check_metadata

EVENT_PROPS_MAX_BYTES = 1024
COMMENT_MAX_LENGTH = 2000

EventKind = Literal[
    "message_sent",
    "message_edited",
    "run_stopped",
    "message_regenerated",
    "message_copied",
    "branch_switched",
    "suggestions_shown",
    "suggestion_clicked",
    "attachment_added",
    "attachment_failed",
    "thread_switched",
    "tool_approved",
    "tool_rejected",
    "speech_started",
    "voice_started",
    "error_shown",
]
OptionalId = str | None


class RunStreamRequest(CloudRequest):
    thread_id: str = Field(max_length=ID_MAX_LENGTH)
    assistant_id: str = Field(max_length=128, examples=["system/thread_title"])
    messages: list[dict[str, Any]] = Field(default_factory=list, max_length=500)


class RunReport(CloudRequest):
    """A run report; the fields the client sends, each bounded."""

    thread_id: str = Field(max_length=ID_MAX_LENGTH)
    status: Literal["completed", "incomplete", "error"]
    outcome_type: Literal["aborted", "disconnected", "length", "content_filter"] | None = None
    message_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)
    first_token_ms: float | None = Field(default=None, ge=0)
    release: str | None = Field(default=None, max_length=200)
    environment: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=50)
    provider: str | None = Field(default=None, max_length=200)
    trace_id: str | None = Field(default=None, max_length=ID_MAX_LENGTH)
    error_code: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=10_000)
    total_steps: int | None = Field(default=None, ge=0)
    tool_calls: list[dict[str, Any]] | None = Field(default=None, max_length=500)
    steps: list[dict[str, Any]] | None = Field(default=None, max_length=500)
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    reasoning_tokens: int | None = Field(default=None, ge=0)
    cached_input_tokens: int | None = Field(default=None, ge=0)
    model_id: str | None = Field(default=None, max_length=200)
    provider_type: str | None = Field(default=None, max_length=200)
    duration_ms: float | None = Field(default=None, ge=0)
    output_text: str | None = Field(default=None, max_length=100_000)
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(check_metadata)


class RunReportCreated(BaseModel):
    run_id: str


class EventIn(CloudRequest):
    kind: EventKind
    thread_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)
    message_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)
    run_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)
    value: int | None = Field(default=None, ge=0, le=2**31 - 1)
    props: dict[str, str | int | float | bool | None] | None = None

    @field_validator("props")
    @classmethod
    def _small_props(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(orjson.dumps(value)) > EVENT_PROPS_MAX_BYTES:
            raise ValueError(f"must be at most {EVENT_PROPS_MAX_BYTES} bytes of JSON")
        return value


class EventBatch(CloudRequest):
    events: list[EventIn] = Field(max_length=50)


class EventsAccepted(BaseModel):
    accepted: int


class ScoreCreate(CloudRequest):
    name: str = Field(min_length=1, max_length=200)
    data_type: Literal["numeric", "categorical", "boolean"]
    value: float | None = None
    string_value: str | None = Field(default=None, max_length=1000)
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_LENGTH)
    thread_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)
    message_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)
    run_id: OptionalId = Field(default=None, max_length=ID_MAX_LENGTH)

    @model_validator(mode="after")
    def _value_matches_type(self) -> ScoreCreate:
        if self.data_type == "categorical":
            if self.string_value is None:
                raise ValueError("string_value is required for a categorical score")
        elif self.value is None or not math.isfinite(self.value):
            raise ValueError(f"value (a finite number) is required for a {self.data_type} score")
        elif self.data_type == "boolean" and self.value not in (0, 1):
            raise ValueError("value must be 0 or 1 for a boolean score")
        return self


class ScoreOut(BaseModel):
    score_id: str
    name: str
    data_type: str
    value: float | None
    string_value: str | None


class FeedbackCreate(CloudRequest):
    type: Literal["positive", "negative"]
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_LENGTH)


class FeedbackOut(BaseModel):
    feedback_id: str
    type: str
    comment: str | None
