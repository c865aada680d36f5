"""`GET /api/models`: the models a picker offers, and which of them the demo model answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from chatbot_api.ai.registry import ModelRegistry
from chatbot_api.core.schemas import CamelModel

router = APIRouter(tags=["models"])


class ModelOut(CamelModel):
    id: str = Field(examples=["google/gemini-2.5-flash-lite"])
    name: str = Field(examples=["Gemini 2.5 Flash Lite"])
    description: str
    provider: str = Field(description="The picker group", examples=["google"])
    reasoning: bool = Field(description="A reasoning model: streams its thinking, uses no tools")
    demo: bool = Field(description="Answered by the offline demo model (no provider configured)")


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
        models=[
            ModelOut(
                id=info.id,
                name=info.name,
                description=info.description,
                provider=info.provider,
                reasoning=info.reasoning,
                demo=registry.resolve(info.id).is_demo,
            )
            for info in registry.models
        ],
    )
