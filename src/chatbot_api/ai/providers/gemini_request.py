"""Provider-neutral messages and tool schemas to the Gemini `generateContent` request shape.

Gemini takes `contents` of user/model turns made of parts, and tool parameters as its own
OpenAPI-style Schema: JSON Schema keywords it rejects are dropped or rewritten here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatbot_api.ai.base import (
    ImagePart,
    ModelRequest,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)

# Google's documented stand-in for a function call replayed without the thought signature
# it came with: Gemini 3 rejects such a call unless it carries this.
SKIP_SIGNATURE = "skip_thought_signature_validator"
MAX_REF_DEPTH = 8  # $ref chains deeper than this (recursive models) become a plain object

SignatureLookup = Callable[[str], str | None]


def gemini_contents(
    request: ModelRequest, signature_for: SignatureLookup | None = None
) -> list[dict[str, Any]]:
    """`contents`: user turns (text, images, function responses) and model turns (text,
    function calls); consecutive messages of one role are merged into one turn, so that
    parallel calls' responses travel together right after the model turn that made them."""
    needs_signature = _validates_signatures(request.model)
    out: list[dict[str, Any]] = []
    for message in request.messages:
        role = "model" if message.role == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                if part.text:
                    parts.append({"text": part.text})
            elif isinstance(part, ImagePart):
                parts.append(_image(part))
            elif isinstance(part, ToolCallPart):
                parts.append(_function_call(part, signature_for, needs_signature))
            elif isinstance(part, ToolResultPart):
                parts.append(_function_response(part))
            # reasoning is not sent back: Gemini reads nothing from unsigned thought text
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    return out


def _validates_signatures(model: str) -> bool:
    """Gemini 1.x/2.x accept replayed calls without signatures; later models do not."""
    name = model.removeprefix("models/")
    return not name.startswith(("gemini-1", "gemini-2", "gemma"))


def _image(part: ImagePart) -> dict[str, Any]:
    if part.url.startswith("data:") and ";base64," in part.url:
        header, data = part.url.split(",", 1)
        mime_type = header[5:].split(";", 1)[0] or part.media_type
        return {"inlineData": {"mimeType": mime_type, "data": data}}
    return {"fileData": {"mimeType": part.media_type, "fileUri": part.url}}


def _function_call(
    part: ToolCallPart, signature_for: SignatureLookup | None, needs_signature: bool
) -> dict[str, Any]:
    args = part.input if isinstance(part.input, dict) else {"value": part.input}
    out: dict[str, Any] = {"functionCall": {"name": part.tool_name, "args": args}}
    signature = signature_for(part.tool_call_id) if signature_for is not None else None
    if signature is None and needs_signature:
        signature = SKIP_SIGNATURE
    if signature is not None:
        out["thoughtSignature"] = signature
    return out


def _function_response(part: ToolResultPart) -> dict[str, Any]:
    """`response` must be an object: a non-object output goes under `output`, an error under
    `error` (the keys Gemini documents for the two)."""
    if part.is_error:
        response: Any = {"error": part.output}
    elif isinstance(part.output, dict):
        response = part.output
    else:
        response = {"output": part.output}
    return {"functionResponse": {"name": part.tool_name, "response": response}}


# --- tools -------------------------------------------------------------------------------


def gemini_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    declarations = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
        parameters = gemini_schema(tool.parameters)
        if parameters.get("properties"):  # Gemini refuses an OBJECT without properties
            declaration["parameters"] = parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


_KEPT = ("description", "title", "minItems", "maxItems", "minLength", "maxLength", "pattern",
         "minimum", "maximum", "minProperties", "maxProperties")  # fmt: skip
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
_FORMATS = {"string": {"enum", "date-time"}, "number": {"float", "double"},
            "integer": {"int32", "int64"}}  # fmt: skip


def gemini_schema(schema: Any) -> dict[str, Any]:
    """A JSON Schema as Gemini's Schema: `$ref`s inlined; nullable unions (`anyOf` with null,
    `type: [x, "null"]`) as `nullable`; `const` as an enum; non-string enums, unsupported
    formats and other keywords (`additionalProperties`, `$schema`, `default`, …) dropped."""
    root = schema if isinstance(schema, dict) else {}
    definitions = {**(root.get("definitions") or {}), **(root.get("$defs") or {})}
    return _convert(root, definitions, 0)


def _convert(node: Any, definitions: dict[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = definitions.get(ref.rsplit("/", 1)[-1])
        if target is None or depth >= MAX_REF_DEPTH:
            return {"type": "object"}
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, definitions, depth + 1)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged = _convert({k: v for k, v in node.items() if k != "allOf"}, definitions, depth)
        for item in all_of:
            part = _convert(item, definitions, depth + 1)
            props = {**part.get("properties", {}), **merged.get("properties", {})}
            required = [*part.get("required", []), *merged.get("required", [])]
            merged = {**part, **merged}
            if props:
                merged["properties"] = props
            if required:
                merged["required"] = list(dict.fromkeys(required))
        return merged
    union = node.get("anyOf", node.get("oneOf"))
    if isinstance(union, list):
        return _union(node, union, definitions, depth)
    out: dict[str, Any] = {}
    nullable = _set_type(node, out)
    kind: str | None = out.get("type")
    for key in _KEPT:
        if key in node:
            out[key] = node[key]
    _enum(node, out)
    if kind is not None and node.get("format") in _FORMATS.get(kind, ()):
        out["format"] = node["format"]
    if kind == "object" or "properties" in node:
        properties = node.get("properties")
        if isinstance(properties, dict) and properties:
            out["properties"] = {
                name: _convert(value, definitions, depth) for name, value in properties.items()
            }
            required = [r for r in node.get("required") or [] if r in properties]
            if required:
                out["required"] = list(dict.fromkeys(required))
    if kind == "array" or "items" in node:
        items = node.get("items")
        out["items"] = _convert(items, definitions, depth) if isinstance(items, dict) else {}
        if not out["items"]:
            out["items"] = {"type": "string"}
    if nullable:
        out["nullable"] = True
    return out


def _set_type(node: dict[str, Any], out: dict[str, Any]) -> bool:
    """Copy the type (inferred when absent); True when null is among the allowed types."""
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    nullable = "null" in kinds or node.get("nullable") is True
    concrete = [k for k in kinds if k != "null"]
    if concrete:
        out["type"] = concrete[0]  # several concrete types: the first (Gemini takes one)
    elif "properties" in node:
        out["type"] = "object"
    elif "items" in node:
        out["type"] = "array"
    elif "const" in node or (isinstance(node.get("enum"), list) and node["enum"]):
        value = node["const"] if "const" in node else node["enum"][0]
        out["type"] = _JSON_TYPES.get(type(value), "string")
    elif kinds == ["null"]:
        out["type"] = "string"
    return nullable


def _enum(node: dict[str, Any], out: dict[str, Any]) -> None:
    """Gemini takes enums of strings only; other values are named in the description."""
    values = node.get("enum")
    if "const" in node:
        values = [node["const"]]
    if not isinstance(values, list) or not values:
        return
    if all(isinstance(v, str) for v in values) and out.get("type") == "string":
        out["enum"] = values
        return
    allowed = ", ".join(str(v) for v in values)
    description = out.get("description")
    out["description"] = (
        f"{description} (one of: {allowed})" if description else f"One of: {allowed}"
    )


def _union(
    node: dict[str, Any], union: list[Any], definitions: dict[str, Any], depth: int
) -> dict[str, Any]:
    options = [o for o in union if not (isinstance(o, dict) and o.get("type") == "null")]
    nullable = len(options) < len(union)
    rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
    if len(options) == 1:
        out = _convert({**rest, **options[0]} if isinstance(options[0], dict) else rest,
                       definitions, depth)  # fmt: skip
        if "description" in rest:
            out["description"] = rest["description"]
    else:
        out = _convert(rest, definitions, depth)
        out["anyOf"] = [_convert(o, definitions, depth) for o in options]
    if nullable:
        out["nullable"] = True
    return out
