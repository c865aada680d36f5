"""Frontend tools: offered to the model by the client's JSON schema, never run on the server
(their calls stream as tool input; the client runs them and sends the result next time)."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict

from chatbot_api.ai.base import ToolSpec
from chatbot_api.ai.tools.base import Tool, ToolContext, ToolFailed


class FrontendInput(BaseModel):
    """Any JSON object: the client checks its own tool's input."""

    model_config = ConfigDict(extra="allow")


class FrontendTool(Tool):
    runs_on_client: ClassVar[bool] = True
    input_model = FrontendInput
    parameters: ClassVar[dict[str, Any]]

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    def parse(self, raw: Any) -> BaseModel:
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"Invalid input for tool {self.name}: must be a JSON object")
        return FrontendInput.model_validate(raw or {})

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        raise ToolFailed(f"{self.name} runs in the browser, not on the server.")


def frontend_tool(name: str, description: str, parameters: dict[str, Any]) -> Tool:
    """A FrontendTool for one entry of the request's `tools`."""
    attributes = {"name": name, "description": description, "parameters": parameters}
    cls = type(f"FrontendTool_{name}", (FrontendTool,), attributes)
    return cast(Tool, cls())
