"""Wire models shared by every domain: the camelCase base model and the error envelopes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """A wire model whose JSON keys are camelCase (as the Next.js routes speak)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class ErrorEnvelope(BaseModel):
    """The ai-chatbot error envelope of every `/api` route (contract §0.2)."""

    code: str = Field(examples=["bad_request:api"])
    message: str = Field(
        examples=["The request couldn't be processed. Please check your input and try again."]
    )
    cause: str | None = Field(default=None, examples=["body.id: Input should be a valid UUID"])


class CloudError(BaseModel):
    """The Assistant Cloud error body of every `/v1` route."""

    message: str = Field(examples=["Thread not found"])
    error: str = Field(examples=["not_found:thread"])
