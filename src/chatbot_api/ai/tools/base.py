"""What a server-side tool is: a pydantic input model, a JSON schema, and an async run."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbot_api.ai.base import ToolSpec
from chatbot_api.ai.resilience import RetryPolicy, Target
from chatbot_api.core.config import Settings


class ToolFailed(Exception):
    """The tool could not do its job; `str(exc)` is short and safe to show the user."""


class ModelChoice(Protocol):
    """A resolved model: who answers it (the model, then its fallbacks) and their retries."""

    @property
    def targets(self) -> tuple[Target, ...]: ...

    @property
    def retry(self) -> RetryPolicy: ...


class ModelSource(Protocol):
    """The models tools and titles use (the model registry)."""

    def title_model(self) -> ModelChoice: ...

    def artifact_model(self) -> ModelChoice: ...


class DataSink(Protocol):
    """Where a tool streams its `data-*` parts (the turn's UI message writer)."""

    def data(
        self, name: str, data: Any, *, id: str | None = None, transient: bool = False
    ) -> None: ...


@dataclass(slots=True)
class ToolContext:
    """What a tool may use during one chat turn, on behalf of `user_id`."""

    user_id: uuid.UUID
    sink: DataSink
    session_factory: async_sessionmaker[AsyncSession]
    registry: ModelSource
    http: httpx.AsyncClient
    settings: Settings


class Tool:
    """A server-side tool; subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    description: ClassVar[str]
    input_model: ClassVar[type[BaseModel]]
    timeout_seconds: ClassVar[float] = 120.0
    runs_on_client: ClassVar[bool] = False  # a frontend tool: never run here (tools/frontend.py)

    def needs_approval(self, settings: Settings) -> bool:
        return False

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name, description=self.description, parameters=json_schema(self.input_model)
        )

    def parse(self, raw: Any) -> BaseModel:
        """The model's arguments as the input model; ValueError with a short reason."""
        try:
            return self.input_model.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            problems = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            raise ValueError(f"Invalid input for tool {self.name}: {problems}") from None

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        raise NotImplementedError


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The input model's JSON schema without pydantic's `title` noise."""
    schema: dict[str, Any] = _strip_titles(model.model_json_schema())
    return schema


def _strip_titles(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            key: _strip_titles(value)
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node
