"""`GET /api/models`: the models a picker offers, and who answers each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from chatbot_api.ai.registry import ModelRegistry, ResolvedModel
from chatbot_api.core.schemas import CamelModel

router = APIRouter(tags=["models"])


class ModelOut(CamelModel):
    id: str = Field(examples=["google/gemini-2.5-flash-lite"])
    name: str = Field(examples=["Gemini 2.5 Flash Lite"])
    description: str
    provider: str = Field(description="The picker group", examples=["google"])
    reasoning: bool = Field(description="A reasoning model: streams its thinking, uses no tools")
    demo: bool = Field(description="Answered by the offline demo model (no provider configured)")
    answered_by: str = Field(
        description="The provider that answers it", examples=["gateway", "openai", "demo"]
    )
    upstream_model: str = Field(
        description="The provider's own id for it", examples=["gemini-2.5-flash-lite"]
    )
    fallbacks: list[str] = Field(
        description="Model ids that answer, in order, when it fails before its first token"
    )
    user_types: list[str] | None = Field(
        description="Who may use it; null: everyone", examples=[["regular"]]
    )


class ModelsOut(CamelModel):
    default_chat_model: str = Field(examples=["google/gemini-2.5-flash-lite"])
    demo: bool = Field(description="No model provider is configured: every reply is a demo")
    models: list[ModelOut]


@router.get("/models", summary="The chat models a model picker can offer")
async def list_models(request: Request) -> ModelsOut:
    registry: ModelRegistry = request.app.state.models
    return ModelsOut(
        default_chat_model=registry.default_chat_model,
        demo=registry.demo_only,
        models=[_model_out(registry.resolve(info.id)) for info in registry.models],
    )


def _model_out(model: ResolvedModel) -> ModelOut:
    info = model.info
    return ModelOut(
        id=info.id,
        name=info.name,
        description=info.description,
        provider=info.provider,
        reasoning=info.reasoning,
        demo=model.is_demo,
        answered_by=model.backend,
        upstream_model=model.upstream_model,
        fallbacks=[target.model_id for target in model.targets[1:]],
        user_types=sorted(model.user_types) if model.user_types is not None else None,
    )
